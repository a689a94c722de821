"""Pure business rules: no I/O, no ORM, no Textual. Tested directly and with hypothesis."""
