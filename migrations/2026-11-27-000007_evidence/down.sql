DROP TABLE discrepancies;
DROP TABLE reconciliations;
DROP TABLE evidence;
DROP TABLE evidence_imports;
