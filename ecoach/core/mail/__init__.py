"""Pure mail code: parsing, composing, bodies, charsets, quoting and the header policy.

No I/O and nothing from the rest of ecoach but ``core``: the transports (IMAP, LMTP,
SMTP) and the actions both use it."""
