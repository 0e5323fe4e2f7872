DROP TABLE rectifications;
DROP TABLE inspection_findings;
DROP TABLE inspections;
