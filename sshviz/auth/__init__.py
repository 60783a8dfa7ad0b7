"""ssh-userauth (RFC 4252, RFC 4256): the client and server sides, and the password store."""
