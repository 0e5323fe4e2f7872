-- Inspection campaigns over a subtree and window, their findings per unit,
-- the measures taken, and the rectification items the units work through.

CREATE TABLE inspections (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    unit_id uuid NOT NULL REFERENCES units (id),
    from_on date NOT NULL,
    to_on date NOT NULL CHECK (to_on >= from_on),
    opened_by uuid NOT NULL REFERENCES accounts (id),
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inspections_unit_idx ON inspections (unit_id);

CREATE TABLE inspection_findings (
    id uuid PRIMARY KEY,
    inspection_id uuid NOT NULL REFERENCES inspections (id),
    unit_id uuid NOT NULL REFERENCES units (id),
    category text NOT NULL CHECK (category IN ('no_rules', 'incomplete_rules', 'not_extended',
                                               'not_implemented', 'falsified')),
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    measures text[] NOT NULL DEFAULT '{}' CHECK (measures <@ ARRAY['criticism_education', 'reminder_letter',
        'supervision_proposal', 'special_democratic_life_meeting', 'accountability']),
    created_by uuid NOT NULL REFERENCES accounts (id),
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inspection_findings_inspection_idx ON inspection_findings (inspection_id, created_at);

CREATE TABLE rectifications (
    id uuid PRIMARY KEY,
    finding_id uuid NOT NULL REFERENCES inspection_findings (id),
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    deadline date NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'completed')),
    evidence text CHECK (evidence IS NULL OR length(evidence) <= 4000),
    -- When the inspectors look back to see that the change held.
    review_on date,
    completed_at timestamptz,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CHECK (review_on IS NULL OR review_on >= deadline)
);
CREATE INDEX rectifications_finding_idx ON rectifications (finding_id, deadline);
