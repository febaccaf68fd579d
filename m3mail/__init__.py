"""m3mail: the M+3 follow-up of new insurance contracts, from the agency's export to the adviser's Outlook."""

__version__ = "0.1.0"
