-- The medicinal product catalogue (issue #18, Medication): what can be prescribed. Reference data,
-- not patient data. Seeded with a starter set of common Swedish products (no NPL id) and loaded from
-- a region's catalogue file by `stadig medication-import` (ProductCatalogueImport), which upserts by
-- product_key: "npl:" + the national product register id when the file gives one, otherwise
-- "name:" + the folded name, strength and dose form.
CREATE TABLE medication_product (
    id               uuid PRIMARY KEY,
    product_key      text COLLATE "C" NOT NULL UNIQUE,
    npl_id           text COLLATE "C" UNIQUE,
    name             text NOT NULL,
    -- As written in the catalogue ("Levodopa + Karbidopa", "100 mg + 25 mg"); each substance with its own
    -- amount is a row of medication_substance.
    substances       text NOT NULL,
    strength         text NOT NULL,
    -- The amount of a single-substance product (null for combinations and products without one).
    strength_value   double precision,
    strength_unit    text,
    dose_form        text NOT NULL,
    route            text NOT NULL,
    atc_code         text COLLATE "C" NOT NULL,
    max_daily_value  double precision,
    max_daily_unit   text,
    -- Administration needs a second nurse's check (issue #18, eMAR).
    high_risk        boolean NOT NULL,
    -- Folded name and strength: the order search results are listed in.
    sort_key         text COLLATE "C" NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX medication_product_atc ON medication_product (atc_code);

-- The substances of a product in catalogue order; name_search folded (lower case, no diacritics) for
-- allergy and duplicate-therapy checks by substance.
CREATE TABLE medication_substance (
    product_id       uuid NOT NULL REFERENCES medication_product(id),
    seq              integer NOT NULL,
    name             text NOT NULL,
    name_search      text COLLATE "C" NOT NULL,
    strength_value   double precision,
    strength_unit    text,
    PRIMARY KEY (product_id, seq)
);
CREATE INDEX medication_substance_search ON medication_substance (name_search);

-- Every folded word of a product's name, substances and strength, and its ATC code, once: search is a
-- prefix range on this index per word typed (a two-letter prefix reads only the terms it matches).
CREATE TABLE medication_search_term (
    term             text COLLATE "C" NOT NULL,
    product_id       uuid NOT NULL REFERENCES medication_product(id),
    PRIMARY KEY (term, product_id)
);
CREATE INDEX medication_search_term_product ON medication_search_term (product_id);
