//! Tests of the conversion on small documents written here, plus checks
//! against the real upstream tree in `../shared` when it is present.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Value, json};

use crate::convert::{self, Options};
use crate::source::tests::MemFetch;
use crate::source::{Loader, Loc, RealFetch, escape};
use crate::{Api, V3, V4, canonical_json, generate};

/// Converts an in-memory tree whose entry is `/api/<entry>`.
fn convert_mem(files: &[(&str, &str)], entry: &str) -> Result<Value> {
    let fetch = MemFetch::new(files);
    let mut loader = Loader::new(&fetch);
    convert::convert(
        &mut loader,
        &Loc::File(PathBuf::from(entry)),
        &Options::default(),
    )
}

/// A 3.1 entry document with one path file, plus the given schema files.
fn tree_with_schema(schema_yaml: &str) -> Result<Value> {
    convert_mem(
        &[
            ("/api/main.yaml", ENTRY),
            ("/api/paths/things.yaml", PATH_FILE),
            ("/api/components/schemas/Thing.yaml", schema_yaml),
            ("/api/components/schemas/Kind.yaml", KIND),
        ],
        "/api/main.yaml",
    )
}

const ENTRY: &str = r#"
openapi: 3.1.1
info:
  title: Test API
  version: '7'
  description: Some words.
  contact: {name: Someone}
  license: {name: MIT, url: https://example.invalid/license}
tags:
  - name: Things
    description: More words.
servers:
  - url: https://api.example.invalid/v1
    description: Main
security:
  - bearerAuth: []
paths:
  /things/{id}:
    $ref: paths/things.yaml
webhooks:
  thing:
    post:
      requestBody:
        content:
          application/json:
            schema:
              $ref: components/schemas/Thing.yaml
      responses:
        '200':
          description: ok
components:
  securitySchemes:
    bearerAuth:
      type: http
      scheme: bearer
      description: Use a key.
x-top: 1
"#;

const PATH_FILE: &str = r#"
get:
  tags: [Things]
  operationId: getThing
  summary: Get it.
  description: Long text.
  x-internal: true
  parameters:
    - name: id
      in: path
      required: true
      schema:
        type: string
        examples: [abc]
      description: The id.
    - name: tags
      in: query
      style: form
      explode: true
      schema:
        type: array
        items:
          type: string
  responses:
    200:
      description: OK.
      content:
        application/json:
          schema:
            $ref: ../components/schemas/Thing.yaml
          examples:
            one:
              summary: An example.
              externalValue: examples/one.json
    '404':
      description: Not found.
"#;

const KIND: &str = r#"
type: string
description: The kind.
enum: [small, large]
"#;

fn thing(props: &str) -> String {
    format!("type: object\ntitle: Thing\ndescription: A thing.\nproperties:\n{props}")
}

#[test]
fn bundles_paths_and_hoists_schema_files() {
    let doc = tree_with_schema(&thing("  kind:\n    $ref: Kind.yaml\n")).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc.get("webhooks").is_none());
    assert!(doc.get("tags").is_none());
    assert!(doc.get("x-top").is_none());
    assert_eq!(
        doc["info"],
        json!({"title": "Test API", "version": "7", "license": {"name": "MIT"}})
    );
    assert_eq!(
        doc["servers"],
        json!([{"url": "https://api.example.invalid/v1"}])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"],
        json!({"type": "http", "scheme": "bearer"})
    );
    let op = &doc["paths"]["/things/{id}"]["get"];
    assert_eq!(op["operationId"], "getThing");
    assert!(
        op.get("tags").is_none() && op.get("summary").is_none() && op.get("x-internal").is_none()
    );
    assert_eq!(
        op["parameters"][0],
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})
    );
    assert_eq!(op["parameters"][1]["style"], "form");
    assert_eq!(op["parameters"][1]["explode"], true);
    assert_eq!(
        op["responses"]["200"],
        json!({"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}})
    );
    assert_eq!(op["responses"]["404"], json!({"description": ""}));
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert_eq!(schemas.keys().collect::<Vec<_>>(), ["Kind", "Thing"]);
    assert_eq!(
        schemas["Thing"],
        json!({"type": "object", "properties": {"kind": {"$ref": "#/components/schemas/Kind"}}})
    );
    assert_eq!(
        schemas["Kind"],
        json!({"type": "string", "enum": ["small", "large"]})
    );
}

#[test]
fn rewrites_discriminator_mapping_file_refs() {
    let files = [
        ("/api/main.yaml", ENTRY),
        ("/api/paths/things.yaml", PATH_FILE),
        (
            "/api/components/schemas/Thing.yaml",
            r#"
oneOf:
  - $ref: sub/Cat.yaml
  - $ref: sub/Dog.yaml
discriminator:
  propertyName: kind
  mapping:
    cat: sub/Cat.yaml
    dog: ./sub/Dog.yaml
"#,
        ),
        (
            "/api/components/schemas/sub/Cat.yaml",
            "type: object\nproperties: {kind: {type: string}}\n",
        ),
        // Refs inside a schema file resolve relative to that file.
        (
            "/api/components/schemas/sub/Dog.yaml",
            "allOf:\n  - $ref: ../sub/Cat.yaml\n",
        ),
    ];
    let doc = convert_mem(&files, "/api/main.yaml").unwrap();
    let thing = &doc["components"]["schemas"]["Thing"];
    assert_eq!(
        thing["discriminator"],
        json!({"propertyName": "kind", "mapping": {
            "cat": "#/components/schemas/Cat", "dog": "#/components/schemas/Dog"}})
    );
    assert_eq!(
        thing["oneOf"][1],
        json!({"$ref": "#/components/schemas/Dog"})
    );
    assert_eq!(
        doc["components"]["schemas"]["Dog"],
        json!({"allOf": [{"$ref": "#/components/schemas/Cat"}]})
    );
}

#[test]
fn refuses_two_schema_files_with_the_same_name() {
    let files = [
        ("/api/main.yaml", ENTRY),
        ("/api/paths/things.yaml", PATH_FILE),
        (
            "/api/components/schemas/Thing.yaml",
            "type: object\nproperties:\n  a: {$ref: a/Same.yaml}\n  b: {$ref: b/Same.yaml}\n",
        ),
        ("/api/components/schemas/a/Same.yaml", "type: string\n"),
        ("/api/components/schemas/b/Same.yaml", "type: integer\n"),
    ];
    let err = format!("{:#}", convert_mem(&files, "/api/main.yaml").unwrap_err());
    assert!(err.contains("#/components/schemas/Same"), "{err}");
    assert!(
        err.contains("a/Same.yaml") && err.contains("b/Same.yaml"),
        "{err}"
    );
}

#[test]
fn ref_with_const_becomes_a_one_value_enum() {
    let doc = tree_with_schema(&thing(
        "  kind:\n    $ref: Kind.yaml\n    const: large\n    x-note: 1\n    description: d\n",
    ))
    .unwrap();
    let s = &doc["components"]["schemas"];
    assert_eq!(
        s["Thing"]["properties"]["kind"],
        json!({"type": "string", "enum": ["large"]})
    );
    // The referenced type stays available as a component.
    assert_eq!(s["Kind"]["enum"], json!(["small", "large"]));

    let err = format!(
        "{:#}",
        tree_with_schema(&thing("  kind:\n    $ref: Kind.yaml\n    const: medium\n")).unwrap_err()
    );
    assert!(
        err.contains("/components/schemas/Thing/properties/kind/const"),
        "{err}"
    );
}

#[test]
fn single_file_allof_const_form_matches_the_tree_form() {
    let entry = r##"
openapi: 3.1.1
info: {title: T, version: '1'}
paths: {}
components:
  schemas:
    Kind:
      type: string
      enum: [small, large]
    Thing:
      type: object
      properties:
        kind:
          allOf:
            - $ref: '#/components/schemas/Kind'
            - const: small
          description: words
      discriminator:
        propertyName: kind
        mapping:
          small: '#/components/schemas/Thing'
"##;
    let doc = convert_mem(&[("/one/api.yaml", entry)], "/one/api.yaml").unwrap();
    let thing = &doc["components"]["schemas"]["Thing"];
    assert_eq!(
        thing["properties"]["kind"],
        json!({"type": "string", "enum": ["small"]})
    );
    assert_eq!(
        thing["discriminator"]["mapping"]["small"],
        "#/components/schemas/Thing"
    );
}

#[test]
fn plain_const_becomes_enum_with_type_kept_or_inferred() {
    let doc = tree_with_schema(&thing(
        "  a:\n    type: string\n    const: fixed\n  b:\n    const: 3\n  c:\n    const: true\n",
    ))
    .unwrap();
    let p = &doc["components"]["schemas"]["Thing"]["properties"];
    assert_eq!(p["a"], json!({"type": "string", "enum": ["fixed"]}));
    assert_eq!(p["b"], json!({"type": "integer", "enum": [3]}));
    assert_eq!(p["c"], json!({"type": "boolean", "enum": [true]}));
}

#[test]
fn null_in_type_arrays_becomes_nullable() {
    let doc = tree_with_schema(&thing(
        "  a:\n    type: [string, 'null']\n    format: date-time\n  b:\n    type: [integer]\n",
    ))
    .unwrap();
    let p = &doc["components"]["schemas"]["Thing"]["properties"];
    assert_eq!(
        p["a"],
        json!({"type": "string", "format": "date-time", "nullable": true})
    );
    assert_eq!(p["b"], json!({"type": "integer"}));

    for bad in [
        "['null']",
        "[string, integer]",
        "[string, integer, 'null']",
        "'null'",
    ] {
        let err = format!(
            "{:#}",
            tree_with_schema(&thing(&format!("  a:\n    type: {bad}\n"))).unwrap_err()
        );
        assert!(
            err.starts_with("/components/schemas/Thing/properties/a/type"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn exclusive_bounds_take_the_3_0_boolean_form() {
    let doc = tree_with_schema(&thing(
        "  a:\n    type: number\n    exclusiveMinimum: 0\n    maximum: 1\n  b:\n    type: integer\n    minimum: 5\n    exclusiveMinimum: 1\n",
    ))
    .unwrap();
    let p = &doc["components"]["schemas"]["Thing"]["properties"];
    assert_eq!(
        p["a"],
        json!({"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1})
    );
    // minimum 5 is stricter than > 1.
    assert_eq!(p["b"], json!({"type": "integer", "minimum": 5}));
}

#[test]
fn drops_unevaluated_properties() {
    let doc = tree_with_schema(
        "type: object\nproperties: {a: {type: string}}\nadditionalProperties: false\nunevaluatedProperties: true\n",
    )
    .unwrap();
    assert_eq!(
        doc["components"]["schemas"]["Thing"],
        json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false})
    );
}

#[test]
fn strips_extensions_everywhere_including_ref_siblings() {
    let doc = tree_with_schema(
        "type: object\nx-ruleset-metadata: {label: L, enum-labels: {a: A}}\nproperties:\n  kind:\n    $ref: Kind.yaml\n    x-platforms: [android]\n  x-real:\n    type: string\n    x-go-force-pointer: true\n",
    )
    .unwrap();
    let text = canonical_json(&doc).unwrap();
    // `x-real` is a property name, not an extension: it stays.
    assert_eq!(
        doc["components"]["schemas"]["Thing"],
        json!({"type": "object", "properties": {
            "kind": {"$ref": "#/components/schemas/Kind"},
            "x-real": {"type": "string"}}})
    );
    for gone in [
        "x-ruleset-metadata",
        "x-platforms",
        "x-go-force-pointer",
        "enum-labels",
        "x-top",
        "x-internal",
    ] {
        assert!(!text.contains(gone), "{gone} left in {text}");
    }
}

#[test]
fn strips_prose_but_keeps_properties_named_like_keywords() {
    let doc = tree_with_schema(&thing(
        "  description:\n    type: string\n    description: The description property.\n    example: hello\n  example:\n    type: integer\n    examples: [1]\n  title:\n    type: string\n    title: T\n  summary:\n    type: boolean\n",
    ))
    .unwrap();
    let thing = &doc["components"]["schemas"]["Thing"];
    assert_eq!(
        thing,
        &json!({"type": "object", "properties": {
            "description": {"type": "string"},
            "example": {"type": "integer"},
            "title": {"type": "string"},
            "summary": {"type": "boolean"}}})
    );
    // A required list naming such properties is kept as well.
    let doc = tree_with_schema(
        "type: object\nrequired: [description]\nproperties:\n  description: {type: string}\n",
    )
    .unwrap();
    assert_eq!(
        doc["components"]["schemas"]["Thing"]["required"],
        json!(["description"])
    );
}

#[test]
fn unknown_keywords_are_errors_naming_the_pointer() {
    let err = format!(
        "{:#}",
        tree_with_schema(&thing(
            "  bar:\n    type: array\n    prefixItems:\n      - type: string\n"
        ))
        .unwrap_err()
    );
    assert!(
        err.starts_with("/components/schemas/Thing/properties/bar/prefixItems:"),
        "{err}"
    );
    assert!(err.contains("components/schemas/Thing.yaml"), "{err}");
    for kw in [
        "contentMediaType: text/plain",
        "$defs: {}",
        "if: {}",
        "patternProperties: {}",
        "unevaluatedItems: false",
        "dependentSchemas: {}",
        "made-up: 1",
    ] {
        let key = kw.split(':').next().unwrap();
        let err = format!(
            "{:#}",
            tree_with_schema(&thing(&format!("  bar:\n    type: string\n    {kw}\n"))).unwrap_err()
        );
        assert!(
            err.starts_with(&format!("/components/schemas/Thing/properties/bar/{key}:")),
            "{kw}: {err}"
        );
    }
    // Outside schemas too: the pointer goes through the inlined path file.
    let err = format!(
        "{:#}",
        convert_mem(
            &[
                ("/api/main.yaml", ENTRY),
                (
                    "/api/paths/things.yaml",
                    "get:\n  operationId: x\n  responses: {}\n  callbacks: {}\n"
                ),
            ],
            "/api/main.yaml"
        )
        .unwrap_err()
    );
    assert!(
        err.starts_with("/paths/~1things~1{id}/get/callbacks:"),
        "{err}"
    );
}

#[test]
fn other_siblings_of_ref_are_errors() {
    let err = format!(
        "{:#}",
        tree_with_schema(&thing("  kind:\n    $ref: Kind.yaml\n    nullable: true\n")).unwrap_err()
    );
    assert!(
        err.starts_with("/components/schemas/Thing/properties/kind/nullable:"),
        "{err}"
    );
}

#[test]
fn inlines_refs_with_fragments_into_other_files() {
    let files = [
        ("/api/main.yaml", ENTRY),
        ("/api/paths/things.yaml", PATH_FILE),
        (
            "/api/components/schemas/Thing.yaml",
            "type: object\nproperties:\n  size: {$ref: 'common.yaml#/definitions/Size'}\n  self: {$ref: '#'}\n",
        ),
        (
            "/api/components/schemas/common.yaml",
            "definitions:\n  Size: {type: integer, minimum: 0, description: d}\n",
        ),
    ];
    let doc = convert_mem(&files, "/api/main.yaml").unwrap();
    let p = &doc["components"]["schemas"]["Thing"]["properties"];
    assert_eq!(p["size"], json!({"type": "integer", "minimum": 0}));
    assert_eq!(p["self"], json!({"$ref": "#/components/schemas/Thing"}));
    assert!(doc["components"]["schemas"].get("common").is_none());
}

#[test]
fn output_is_deterministic_and_sorted() {
    let schema = thing("  zeta: {type: string}\n  alpha: {type: integer}\n");
    let files = [
        ("/api/main.yaml", ENTRY),
        ("/api/paths/things.yaml", PATH_FILE),
        ("/api/components/schemas/Thing.yaml", schema.as_str()),
    ];
    let fetch = MemFetch::new(&files);
    let entry = Loc::File("/api/main.yaml".into());
    let a = generate(&fetch, &entry, &V4, "x", "1.0").unwrap();
    let b = generate(&fetch, &entry, &V4, "x", "1.0").unwrap();
    assert_eq!(a.text, b.text);
    assert_eq!(a.source, b.source);
    assert!(a.text.ends_with("}\n") && !a.text.ends_with("\n\n"));
    assert!(a.text.starts_with("{\n  \"components\": {\n"), "{}", a.text);
    let alpha = a.text.find("\"alpha\"").unwrap();
    let zeta = a.text.find("\"zeta\"").unwrap();
    assert!(alpha < zeta);
    assert_eq!(a.form, "tree");
    assert_eq!(a.files_read, 3);
    assert!(a.source.contains("do not edit by hand"));
    assert!(a.source.contains("form = \"tree\""));
    assert!(a.source.contains("upstream_version = \"1.0\""));
    assert!(a.source.contains("info_version = \"7\""));
    // Another byte in any input changes the input checksum.
    let changed = files.map(|(p, t)| {
        (
            p,
            if p.ends_with("Thing.yaml") {
                "type: string\n"
            } else {
                t
            },
        )
    });
    let c = generate(&MemFetch::new(&changed), &entry, &V4, "x", "1.0").unwrap();
    let sha = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("input_sha256"))
            .unwrap()
            .to_string()
    };
    assert_ne!(sha(&a.source), sha(&c.source));
}

#[test]
fn small_document_is_accepted_by_openapiv3() {
    let doc = tree_with_schema(&thing(
        "  kind:\n    $ref: Kind.yaml\n    const: small\n  n:\n    type: [number, 'null']\n",
    ))
    .unwrap();
    let api: openapiv3::OpenAPI = serde_json::from_value(doc).unwrap();
    assert_eq!(api.openapi, "3.0.3");
}

#[test]
fn parses_arguments() {
    let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    assert!(matches!(
        crate::parse_args(&args("--help")).unwrap(),
        crate::Command::Help
    ));
    assert!(matches!(
        crate::parse_args(&args("regen -h")).unwrap(),
        crate::Command::Help
    ));
    let crate::Command::Regen(a) = crate::parse_args(&args(
        "regen --check --from=../x --api v3 --upstream-version 1.2",
    ))
    .unwrap() else {
        panic!("expected regen");
    };
    assert!(a.check);
    assert_eq!(a.from.as_deref(), Some("../x"));
    assert_eq!(a.api.name, "v3");
    assert_eq!(a.upstream_version.as_deref(), Some("1.2"));
    assert!(crate::parse_args(&args("regen --bogus")).is_err());
    assert!(crate::parse_args(&args("regen --from")).is_err());
    assert!(crate::parse_args(&args("frobnicate")).is_err());
}

// ------------------------------------------------- against ../shared

fn shared() -> Option<PathBuf> {
    let dir = crate::workspace_root().join("../shared/upstream");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is not present", dir.display());
        None
    }
}

fn generate_real(api: &Api, entry: &Path) -> crate::Generated {
    generate(
        &RealFetch::default(),
        &Loc::File(entry.to_path_buf()),
        api,
        "test",
        "test",
    )
    .unwrap()
}

/// Keys named like prose anywhere except where keys are names (properties)
/// and the empty response `description` OpenAPI 3.0 requires.
fn prose_keys(v: &Value, ptr: &str, names_here: bool, found: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{ptr}/{}", escape(k));
                let prose = [
                    "description",
                    "summary",
                    "example",
                    "examples",
                    "title",
                    "externalValue",
                ]
                .contains(&k.as_str())
                    || k.starts_with("x-");
                let empty_response_description =
                    k == "description" && x == "" && (ptr.contains("/responses/"));
                let info_title = ptr == "/info" && k == "title";
                if prose && !names_here && !empty_response_description && !info_title {
                    found.push(p.clone());
                }
                prose_keys(x, &p, k == "properties" && !names_here, found);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                prose_keys(x, &format!("{ptr}/{i}"), false, found);
            }
        }
        _ => {}
    }
}

#[test]
fn upstream_tree_converts() {
    let Some(shared) = shared() else { return };
    let g = generate_real(&V4, &shared.join("schemas/fingerprint-server-api-v4.yaml"));
    let doc = &g.document;
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(g.form, "tree");
    assert!(doc.get("webhooks").is_none());
    assert_eq!(doc["paths"].as_object().unwrap().len(), 4);
    assert_eq!(doc["components"]["schemas"].as_object().unwrap().len(), 127);
    let mut found = Vec::new();
    prose_keys(doc, "", false, &mut found);
    assert!(found.is_empty(), "prose left at {found:?}");
    let s = &doc["components"]["schemas"];
    assert_eq!(
        s["EventRuleActionAllow"]["properties"]["type"],
        json!({"type": "string", "enum": ["allow"]})
    );
    assert_eq!(
        s["EventRuleActionBlock"]["properties"]["type"],
        json!({"type": "string", "enum": ["block"]})
    );
    assert_eq!(
        s["EventRuleAction"]["discriminator"]["mapping"],
        json!({"allow": "#/components/schemas/EventRuleActionAllow",
               "block": "#/components/schemas/EventRuleActionBlock"})
    );
    // The text has no trace of the upstream file layout.
    assert!(!g.text.contains(".yaml"));
    let api: openapiv3::OpenAPI = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(api.paths.paths.len(), 4);
}

#[test]
fn committed_document_is_up_to_date() {
    let Some(shared) = shared() else { return };
    let committed = crate::workspace_root().join("openapi/fingerprint-server-api-v4.json");
    let Ok(text) = std::fs::read_to_string(&committed) else {
        eprintln!("skipped: {} not generated yet", committed.display());
        return;
    };
    let g = generate_real(&V4, &shared.join("schemas/fingerprint-server-api-v4.yaml"));
    if text != g.text {
        let old: Value = serde_json::from_str(&text).unwrap();
        panic!(
            "openapi/fingerprint-server-api-v4.json is stale; run `cargo xtask regen --from ../shared/upstream/schemas`:\n{}",
            crate::check::compare(&old, &g.document).render()
        );
    }
}

#[test]
fn published_single_file_converts_and_drifts() {
    let Some(shared) = shared() else { return };
    let single = generate_real(
        &V4,
        &shared.join("published/fingerprint-server-api-v4.yaml"),
    );
    assert_eq!(single.form, "single-file");
    let s = &single.document["components"]["schemas"];
    assert_eq!(
        s["EventRuleActionAllow"]["properties"]["type"],
        json!({"type": "string", "enum": ["allow"]})
    );
    let mut found = Vec::new();
    prose_keys(&single.document, "", false, &mut found);
    assert!(found.is_empty(), "prose left at {found:?}");
    let _: openapiv3::OpenAPI = serde_json::from_value(single.document.clone()).unwrap();

    let tree = generate_real(&V4, &shared.join("schemas/fingerprint-server-api-v4.yaml"));
    let d = crate::check::compare(&tree.document, &single.document);
    // The published release leaves out /edge.
    assert!(
        d.changes.contains(&crate::check::Change::OperationRemoved {
            op: "analyzeRequestForAutomationIntelligence".into(),
            method: "POST".into(),
            path: "/edge".into()
        }),
        "{}",
        d.render()
    );
}

#[test]
fn upstream_v3_converts() {
    let Some(shared) = shared() else { return };
    let g = generate_real(
        &V3,
        &shared.join("schemas/fingerprint-server-api-for-sdks.yaml"),
    );
    let doc = &g.document;
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(g.form, "single-file");
    assert!(doc["paths"].get("/webhook").is_none());
    assert!(doc["paths"].get("/events/{request_id}").is_some());
    let mut found = Vec::new();
    prose_keys(doc, "", false, &mut found);
    assert!(found.is_empty(), "prose left at {found:?}");
    let _: openapiv3::OpenAPI = serde_json::from_value(doc.clone()).unwrap();
}

// ------------------------------------------------- real I/O, locally

/// A throw-away directory under the system temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn directory_input_finds_the_entry_and_schema_version() {
    let dir = temp_dir("dir");
    std::fs::create_dir_all(dir.join("paths")).unwrap();
    std::fs::create_dir_all(dir.join("components/schemas")).unwrap();
    std::fs::write(
        dir.join("fingerprint-server-api-v4.yaml"),
        ENTRY.replace("paths/things.yaml", "./paths/things.yaml"),
    )
    .unwrap();
    std::fs::write(dir.join("paths/things.yaml"), PATH_FILE).unwrap();
    std::fs::write(dir.join("components/schemas/Thing.yaml"), "type: object\n").unwrap();
    std::fs::write(dir.join(".schema-version"), "v9.9.9\n").unwrap();

    let entry = crate::entry_location(dir.to_str().unwrap(), &V4, Path::new("/")).unwrap();
    assert_eq!(entry, Loc::File(dir.join("fingerprint-server-api-v4.yaml")));
    assert_eq!(crate::upstream_version(None, &entry).unwrap(), "v9.9.9");
    assert_eq!(
        crate::upstream_version(Some("abc123"), &entry).unwrap(),
        "abc123"
    );
    let g = generate(&RealFetch::default(), &entry, &V4, "x", "v9.9.9").unwrap();
    assert_eq!(g.files_read, 3);
    assert!(
        crate::entry_location(dir.join("nope").to_str().unwrap(), &V4, Path::new("/")).is_err()
    );
    assert_eq!(
        crate::recorded_from(
            "../../shared/upstream/schemas/",
            Path::new("/w/main/sub"),
            Path::new("/w/main")
        ),
        "../shared/upstream/schemas"
    );
    assert_eq!(
        crate::recorded_from("/elsewhere/x", Path::new("/w/main"), Path::new("/w/main")),
        "/elsewhere/x"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Serves `files` (URL path → text) over plain HTTP on a local port, one
/// request per connection, for as long as the test process runs.
fn serve(files: Vec<(&'static str, String)>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            // Skip the headers.
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let (status, body) = match files.iter().find(|(p, _)| *p == path) {
                Some((_, b)) => ("200 OK", b.clone()),
                None => ("404 Not Found", String::new()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn url_input_resolves_relative_refs_against_the_url() {
    let base = serve(vec![
        ("/s/v4/main.yaml", ENTRY.to_string()),
        ("/s/v4/paths/things.yaml", PATH_FILE.to_string()),
        (
            "/s/v4/components/schemas/Thing.yaml",
            thing("  kind: {$ref: Kind.yaml}\n"),
        ),
        ("/s/v4/components/schemas/Kind.yaml", KIND.to_string()),
    ]);
    let url = format!("{base}/s/v4/main.yaml");
    let entry = crate::entry_location(&url, &V4, Path::new("/")).unwrap();
    let g = generate(&RealFetch::default(), &entry, &V4, &url, "unknown").unwrap();
    assert_eq!(g.files_read, 4);
    assert_eq!(g.form, "tree");
    assert_eq!(
        g.document["components"]["schemas"]["Kind"]["enum"],
        json!(["small", "large"])
    );
    let missing = generate(
        &RealFetch::default(),
        &Loc::Url(format!("{base}/nope.yaml")),
        &V4,
        "",
        "",
    );
    assert!(format!("{:#}", missing.unwrap_err()).contains("404"));
}

// ------------------------------------------------- regen end to end

/// Copies a directory tree (files and folders only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A throw-away copy of the v4 files of `openapi/` (document, SOURCE,
/// docs.toml): regen in tests writes there, never into the real one.
fn openapi_copy(tag: &str) -> PathBuf {
    let dir = temp_dir(tag);
    let real = crate::workspace_root().join("openapi");
    for name in ["fingerprint-server-api-v4.json", "SOURCE", "docs.toml"] {
        std::fs::copy(real.join(name), dir.join(name)).unwrap();
    }
    dir
}

/// Runs `cargo xtask <args>` in-process; returns its result and what it
/// printed.
fn run_regen(args: &[&str]) -> (Result<bool>, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let crate::Command::Regen(a) = crate::parse_args(&args).unwrap() else {
        panic!("not a regen command: {args:?}");
    };
    let mut out = Vec::new();
    let r = crate::regen(&a, &mut out);
    (r, String::from_utf8(out).unwrap())
}

/// Removes from `text` the block that starts with the line `first` and
/// runs until the next line indented no deeper than `first`.
fn cut_block(text: &str, first: &str) -> String {
    let indent = first.len() - first.trim_start().len();
    let mut out = String::new();
    let mut cutting = false;
    let mut found = false;
    for line in text.split_inclusive('\n') {
        let depth = line.len() - line.trim_start().len();
        if line.trim_end() == first {
            cutting = true;
            found = true;
            continue;
        }
        if cutting && !line.trim().is_empty() && depth <= indent {
            cutting = false;
        }
        if !cutting {
            out.push_str(line);
        }
    }
    assert!(found, "no line `{first}`");
    out
}

#[test]
fn the_report_against_the_older_published_release_speaks_in_words() {
    let Some(shared) = shared() else { return };
    let out_dir = openapi_copy("report");
    let published = shared.join("published/fingerprint-server-api-v4.yaml");
    let before = std::fs::read_to_string(out_dir.join("docs.toml")).unwrap();
    let (r, text) = run_regen(&[
        "regen",
        "--check",
        "--from",
        published.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
    ]);
    assert!(!r.unwrap(), "the older release must drift:\n{text}");
    for sentence in [
        "- operation `analyzeRequestForAutomationIntelligence` (POST /edge) removed",
        "- `Event`: property `active_call` removed (was `ActiveCall`)",
        "- `RawDeviceAttributes`: property `keyboard_layout_hash` removed (was `KeyboardLayoutHash`)",
        "- `searchEvents`: query parameter `active_call` removed (was optional, `boolean`)",
        "- `searchEvents`: response 429 removed (body was `ErrorResponse`)",
        "- `searchEvents` query parameter `start`: type changed from `date-time | int64` to `int64 | date-time`",
        "- `EventRuleActionAllow`: property `ruleset_id` is now required",
        "- schema `SearchEventsBot` added (`string`, 4 values)",
        "- `searchEvents` query parameter `bot`: now a reference to schema `SearchEventsBot` (was an equal inline schema)",
        "  version: major (",
        // What docs.toml describes and the older release lacks.
        "    - property `Event.active_call` ([schemas.Event.properties])",
        "    - schema `EdgeRequest` ([schemas.EdgeRequest])",
        "    - operation `analyzeRequestForAutomationIntelligence` ([operations])",
        "    - parameter `active_call` of `searchEvents` ([parameters.searchEvents])",
    ] {
        assert!(text.contains(sentence), "no `{sentence}` in:\n{text}");
    }
    // No JSON pointer anywhere.
    assert!(
        !text.contains("/components/") && !text.contains("/paths/") && !text.contains("~1"),
        "{text}"
    );
    // --check writes nothing.
    assert_eq!(
        std::fs::read_to_string(out_dir.join("docs.toml")).unwrap(),
        before
    );
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn regen_of_a_tree_without_a_described_name_prunes_docs_toml() {
    let Some(shared) = shared() else { return };
    let tree = temp_dir("tree");
    copy_tree(&shared.join("schemas"), &tree);
    let event = tree.join("components/schemas/Event.yaml");
    let text = std::fs::read_to_string(&event).unwrap();
    std::fs::write(&event, cut_block(&text, "  active_call:")).unwrap();
    let paths = tree.join("paths/events.yaml");
    let text = std::fs::read_to_string(&paths).unwrap();
    std::fs::write(&paths, cut_block(&text, "    - name: active_call")).unwrap();

    let out_dir = openapi_copy("flow");
    let docs_path = out_dir.join("docs.toml");
    let docs_before = std::fs::read_to_string(&docs_path).unwrap();
    let args = |check: bool| {
        let mut v = vec!["regen"];
        if check {
            v.push("--check");
        }
        v.extend([
            "--from",
            tree.to_str().unwrap(),
            "--out-dir",
            out_dir.to_str().unwrap(),
        ]);
        v
    };

    // --check lists what would go, and writes nothing.
    let (r, text) = run_regen(&args(true));
    assert!(!r.unwrap(), "{text}");
    assert!(
        text.contains("has 2 entries naming what the new document does not have (regen removes them):\n    - property `Event.active_call` ([schemas.Event.properties])\n    - parameter `active_call` of `searchEvents` ([parameters.searchEvents])\n"),
        "{text}"
    );
    assert!(
        text.contains("- `Event`: property `active_call` removed (was `ActiveCall`)"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&docs_path).unwrap(), docs_before);

    // regen succeeds, prunes exactly those two lines and says so.
    let (r, text) = run_regen(&args(false));
    assert!(r.unwrap(), "{text}");
    assert!(
        text.contains("entries naming what the new document does not have:\n    - property `Event.active_call`"),
        "{text}"
    );
    let docs_after = std::fs::read_to_string(&docs_path).unwrap();
    let expected: String = docs_before
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("active_call = "))
        .collect();
    assert_eq!(docs_before.lines().count() - expected.lines().count(), 2);
    assert_eq!(docs_after, expected);
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("fingerprint-server-api-v4.json")).unwrap(),
    )
    .unwrap();
    assert!(
        doc.pointer("/components/schemas/Event/properties/active_call")
            .is_none()
    );
    let docs = crate::overlay::parse(&docs_after).unwrap();
    assert_eq!(
        crate::overlay::stale_names(&docs, &doc, &(crate::V4.options)().policy).unwrap(),
        vec![]
    );

    // And now all is in order.
    let (r, text) = run_regen(&args(true));
    assert!(r.unwrap(), "{text}");
    assert!(
        text.starts_with("OK: ") && text.contains("is up to date"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&tree);
    let _ = std::fs::remove_dir_all(&out_dir);
}

// ------------------------------------------------- --from <URL>, on loopback

/// Serves one connection: reads the request, sends the start of an answer
/// that promises more, then waits for the client to give up.
fn serve_stalling() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        // A bound on this thread, should the client never close.
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf);
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nopenapi: 3.1.1\n");
        let _ = stream.flush();
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    });
    format!("http://{addr}")
}

/// `regen --check --from <url>` into a scratch directory; the error it
/// ends with, as printed.
fn regen_url_error(tag: &str, url: &str, extra: &[&str]) -> String {
    let out_dir = temp_dir(tag);
    let mut args = vec![
        "regen",
        "--check",
        "--from",
        url,
        "--out-dir",
        out_dir.to_str().unwrap(),
    ];
    args.extend(extra);
    let (r, _) = run_regen(&args);
    let _ = std::fs::remove_dir_all(&out_dir);
    let e = format!("{:#}", r.expect_err("expected an error"));
    assert!(!e.contains('\n'), "not one line: {e}");
    e
}

#[test]
fn regen_from_a_url_gives_what_the_file_gives() {
    let Some(shared) = shared() else { return };
    let published = shared.join("published/fingerprint-server-api-v4.yaml");
    let body = std::fs::read_to_string(&published).unwrap();
    let base = serve(vec![("/schemas/fingerprint-server-api-v4.yaml", body)]);
    let url = format!("{base}/schemas/fingerprint-server-api-v4.yaml");
    let out_dir = openapi_copy("url");

    let (r, text) = run_regen(&[
        "regen",
        "--from",
        &url,
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--upstream-version",
        "v3.4.2",
    ]);
    assert!(r.unwrap(), "{text}");
    let local = generate_real(&V4, &published);
    let written = std::fs::read_to_string(out_dir.join("fingerprint-server-api-v4.json")).unwrap();
    assert_eq!(written, local.text);
    let source = std::fs::read_to_string(out_dir.join("SOURCE")).unwrap();
    assert!(source.contains(&format!("from = \"{url}\"")), "{source}");
    assert!(source.contains("form = \"single-file\""), "{source}");
    assert!(source.contains("upstream_version = \"v3.4.2\""), "{source}");
    assert!(
        text.contains(&format!("from {url} (single-file, 1 file read")),
        "{text}"
    );
    // The older release lacks names docs.toml describes: they went.
    assert!(
        text.contains("    - property `Event.active_call`"),
        "{text}"
    );
    let docs = std::fs::read_to_string(out_dir.join("docs.toml")).unwrap();
    assert!(!docs.contains("[schemas.EdgeRequest]"), "{docs}");
    assert!(docs.contains("[schemas.Event.properties]"), "{docs}");
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn a_url_that_answers_404_is_a_one_line_error() {
    let base = serve(vec![]);
    let url = format!("{base}/schemas/fingerprint-server-api-v4.yaml");
    let e = regen_url_error("url-404", &url, &[]);
    assert!(
        e.contains(&format!(
            "downloading {url}: the server answered with HTTP status 404"
        )),
        "{e}"
    );
}

#[test]
fn a_url_that_serves_no_yaml_is_a_one_line_error() {
    let base = serve(vec![
        (
            "/broken.yaml",
            "openapi: 3.1.1\ninfo: [unclosed\n".to_string(),
        ),
        (
            "/page.yaml",
            "<!DOCTYPE html>\n<html>\n<body>Moved</body>\n</html>\n".to_string(),
        ),
    ]);
    let e = regen_url_error("url-broken", &format!("{base}/broken.yaml"), &[]);
    assert!(
        e.contains(&format!("parsing {base}/broken.yaml: invalid YAML: ")),
        "{e}"
    );
    // An HTML page is YAML of a kind (one string), but no document.
    let e = regen_url_error("url-html", &format!("{base}/page.yaml"), &[]);
    assert!(
        e.contains("expected an OpenAPI document (an object), found a string"),
        "{e}"
    );
}

#[test]
fn a_url_that_stalls_times_out() {
    let base = serve_stalling();
    let url = format!("{base}/schemas/fingerprint-server-api-v4.yaml");
    let e = regen_url_error("url-stall", &url, &["--timeout", "0.3"]);
    assert!(
        e.contains(&format!(
            "downloading {url}: no complete answer within 300ms (a longer --timeout may help)"
        )),
        "{e}"
    );
}

#[test]
fn timeout_must_be_a_positive_number_of_seconds() {
    let args = |t: &str| {
        ["regen", "--timeout", t]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    let Ok(crate::Command::Regen(a)) = crate::parse_args(&args("2.5")) else {
        panic!("2.5 refused");
    };
    assert_eq!(a.timeout, std::time::Duration::from_millis(2500));
    for bad in ["0", "-1", "soon", "NaN", "inf"] {
        let e = crate::parse_args(&args(bad)).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(format!("--timeout {bad}: expected a number of seconds above 0").as_str())
        );
    }
}
