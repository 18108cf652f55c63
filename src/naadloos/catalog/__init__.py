"""One catalog, one price: products with variants (SKU, GTIN), one VAT-inclusive price a
variant with its history, and explicit, listed channel exceptions."""
