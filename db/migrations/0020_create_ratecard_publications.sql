-- The rate-card change log (SPEC §2): every published version of a rate card with its content hash,
-- its exact text, a note, who published it and when. Append-only: a published version is never
-- edited, only superseded by a new version; the triggers below refuse UPDATE, DELETE and TRUNCATE.

CREATE TABLE ratecard_publications (
  publication_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ratecard       text        NOT NULL CHECK (ratecard ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  effective_from timestamptz NOT NULL,
  -- sha256 (hex) of the file's bytes; `content` is those bytes as UTF-8 text, so a workflow can rate
  -- with exactly the published version, whatever happens to the file later.
  content_hash   text        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  content        text        NOT NULL,
  file_name      text        NOT NULL,
  note           text        NOT NULL DEFAULT '',
  published_by   text        NOT NULL,
  published_at   timestamptz NOT NULL DEFAULT now(),
  -- One version per instant: publishing it again is a no-op when identical and refused otherwise.
  CONSTRAINT ratecard_publications_version_key UNIQUE (ratecard, effective_from)
);

CREATE FUNCTION refuse_ratecard_publication_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ratecard_publications is append-only: a published rate-card version is never edited, only superseded'
    USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ratecard_publications_append_only
  BEFORE UPDATE OR DELETE ON ratecard_publications
  FOR EACH ROW EXECUTE FUNCTION refuse_ratecard_publication_change();

CREATE TRIGGER ratecard_publications_no_truncate
  BEFORE TRUNCATE ON ratecard_publications
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_ratecard_publication_change();
