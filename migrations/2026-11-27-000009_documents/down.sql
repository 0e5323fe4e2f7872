DROP TABLE document_checkouts;
DROP TABLE travel_documents;
