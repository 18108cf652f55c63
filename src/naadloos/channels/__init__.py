"""The channel registry: every way a retailer sells and talks (stores, webshop, app, social,
marketplaces, phone, email, SMS, chat, kiosks) and what a customer can do through each."""
