"""kfexplorer: an offline cohort explorer for Kids First-style pediatric research releases."""

__version__ = "0.1.0"
