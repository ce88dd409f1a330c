"""Source adapters: public or platform extracts turned into contract datasets."""
