"""MES connector: ISA-95 B2MML production performance and material lot receipts."""
