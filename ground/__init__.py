"""The ground station: contact windows, link model, receiver with acks, store, reports, uplink."""
