"""The auditor's outputs: the HTML report, the spreadsheet and the PDF case packs."""
