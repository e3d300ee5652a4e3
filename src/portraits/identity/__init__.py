"""Identity resolution: identifiers → ID graph → one stable ``customer_id`` per person."""
