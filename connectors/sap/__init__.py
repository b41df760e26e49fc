"""SAP ERP connector: IDoc XML and OData JSON (see README.md)."""
