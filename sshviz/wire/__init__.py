"""Wire format: RFC 4251 data types and the declarative message catalog."""
