"""Reading the agency's contract export (CSV or XLSX): ``PortfolioReader`` and its ``ReadReport``."""

from m3mail.portfolio.reader import PortfolioReader, ReadReport

__all__ = ["PortfolioReader", "ReadReport"]
