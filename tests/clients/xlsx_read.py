"""Reads an XLSX workbook from standard input with openpyxl and prints every sheet's cell
values as JSON: {"sheet name": [[row values], ...], ...}. The reports' files are checked with it."""
import io
import json
import sys

import openpyxl

book = openpyxl.load_workbook(io.BytesIO(sys.stdin.buffer.read()), read_only=True, data_only=True)
out = {}
for sheet in book.worksheets:
    out[sheet.title] = [list(row) for row in sheet.iter_rows(values_only=True)]
json.dump(out, sys.stdout, ensure_ascii=False)
