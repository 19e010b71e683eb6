"""Mail channel (inbound IMAP/LMTP, outbound SMTP)."""
