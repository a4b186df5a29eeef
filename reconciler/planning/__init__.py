"""Pure planning: (desired, live snapshot, state) -> Plan. Never calls the network."""
