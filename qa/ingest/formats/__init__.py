"""Archive formats with a layout: e-paper PDFs, scanned pages (OCR), saved web pages.

`document` turns one file into `Page`s (see `pages`): PDF pages with a text layer are read from
it (`pdf`), pages without one and image files through OCR (`ocr`); both go through the same
layout analysis (`layout`). A saved web page gives its article body and metadata (`html`).
Bad files raise ReadError.
"""
