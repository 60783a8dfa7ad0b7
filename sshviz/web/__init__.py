"""sshviz in web browsers: ``sshviz web`` serves the terminal UI to browsers with textual-serve,
one app process per tab (``server.WebServer``). An adapter at the top, beside the terminal UI:
it runs the UI as a command and never imports it, and nothing but the command line imports
this package (the only code that touches textual-serve and aiohttp)."""
