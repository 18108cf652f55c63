"""One order book: carts that follow the customer across channels, checkout, orders and their
fulfilment (ship, click & collect), each change recorded with who, where and why."""
