-- FHIR-style resources (Client, Patient): JSON as the user sent it. Secrets appear only as references.
-- `json`, not `jsonb`: json keeps the text as sent (key order included), so a resource round-trips unchanged.
CREATE TABLE IF NOT EXISTS resources (
  resource_type  text        NOT NULL,
  id             text        NOT NULL,
  resource       json        NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (resource_type, id)
);
