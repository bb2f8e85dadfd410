//! The documents clients read before anything else: the v3 service index that names
//! every resource, and the v2 service document and `$metadata` of the OData feed.

use serde_json::{Value, json};
use wharf_plugin_sdk::Response;

use crate::odata::{ENTITY_TYPE, METADATA_NS, PROPERTIES, QUALIFIED_TYPE, Xml};
use crate::render::{ATOM, JSON, XML};

/// v3 resources: type, path below the feed, description. Clients pick the newest type
/// they know, so the older aliases stay for older clients.
const RESOURCES: &[(&str, &str, &str)] = &[
    (
        "SearchQueryService",
        "/query",
        "Query endpoint of NuGet Search service (primary)",
    ),
    (
        "SearchQueryService/3.0.0-beta",
        "/query",
        "Query endpoint of NuGet Search service (primary)",
    ),
    (
        "SearchQueryService/3.0.0-rc",
        "/query",
        "Query endpoint of NuGet Search service (primary)",
    ),
    (
        "SearchAutocompleteService",
        "/autocomplete",
        "Autocomplete endpoint of NuGet Search service (primary)",
    ),
    (
        "SearchAutocompleteService/3.0.0-beta",
        "/autocomplete",
        "Autocomplete endpoint of NuGet Search service (primary)",
    ),
    (
        "SearchAutocompleteService/3.0.0-rc",
        "/autocomplete",
        "Autocomplete endpoint of NuGet Search service (primary)",
    ),
    (
        "RegistrationsBaseUrl",
        "/registration",
        "Base URL of the package registrations",
    ),
    (
        "RegistrationsBaseUrl/3.0.0-beta",
        "/registration",
        "Base URL of the package registrations",
    ),
    (
        "RegistrationsBaseUrl/3.0.0-rc",
        "/registration",
        "Base URL of the package registrations",
    ),
    (
        "PackageBaseAddress/3.0.0",
        "/package",
        "Base URL of where NuGet packages are stored",
    ),
    ("PackagePublish/2.0.0", "", "Push and delete packages"),
    (
        "SymbolPackagePublish/4.9.0",
        "/symbolpackage",
        "Push symbol packages",
    ),
];

const EDM_NS: &str = "http://schemas.microsoft.com/ado/2006/04/edm";

/// `index.json`, the v3 service index.
pub fn index(base_url: &str) -> Response {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|(kind, path, comment)| {
            json!({ "@id": format!("{base_url}{path}"), "@type": kind, "comment": comment })
        })
        .collect();
    let body = json!({ "version": "3.0.0", "resources": resources });
    Response::new(200, JSON, body.to_string())
}

/// The v2 root: an AtomPub service document with the one `Packages` collection.
pub fn v2_service_document(base_url: &str) -> Response {
    let xml_base = format!("{base_url}/");
    let mut xml = Xml::document();
    xml.open(
        "service",
        &[
            ("xml:base", &xml_base),
            ("xmlns", "http://www.w3.org/2007/app"),
            ("xmlns:atom", "http://www.w3.org/2005/Atom"),
        ],
    );
    xml.open("workspace", &[]);
    xml.element("atom:title", &[("type", "text")], "Default");
    xml.open("collection", &[("href", "Packages")]);
    xml.element("atom:title", &[("type", "text")], "Packages");
    xml.close("collection");
    xml.close("workspace");
    xml.close("service");
    Response::new(200, ATOM, xml.into_string())
}

/// `$metadata`: the EDMX describing the entity the feed's entries carry and the
/// functions the feed answers.
pub fn edmx() -> Response {
    let mut xml = Xml::document();
    xml.open(
        "edmx:Edmx",
        &[
            ("Version", "1.0"),
            (
                "xmlns:edmx",
                "http://schemas.microsoft.com/ado/2007/06/edmx",
            ),
        ],
    );
    xml.open(
        "edmx:DataServices",
        &[
            ("m:DataServiceVersion", "2.0"),
            ("m:MaxDataServiceVersion", "2.0"),
            ("xmlns:m", METADATA_NS),
        ],
    );
    entity_schema(&mut xml);
    container_schema(&mut xml);
    xml.close("edmx:DataServices");
    xml.close("edmx:Edmx");
    Response::new(200, XML, xml.into_string())
}

fn entity_schema(xml: &mut Xml) {
    xml.open(
        "Schema",
        &[("Namespace", "NuGetGallery.OData"), ("xmlns", EDM_NS)],
    );
    xml.open(
        "EntityType",
        &[("Name", ENTITY_TYPE), ("m:HasStream", "true")],
    );
    xml.open("Key", &[]);
    for key in ["Id", "Version"] {
        xml.empty("PropertyRef", &[("Name", key)]);
    }
    xml.close("Key");
    for (name, edm) in PROPERTIES {
        let nullable = if edm.nullable() { "true" } else { "false" };
        xml.empty(
            "Property",
            &[("Name", name), ("Type", edm.name()), ("Nullable", nullable)],
        );
    }
    xml.close("EntityType");
    xml.close("Schema");
}

fn container_schema(xml: &mut Xml) {
    xml.open(
        "Schema",
        &[("Namespace", "NuGetGallery"), ("xmlns", EDM_NS)],
    );
    xml.open(
        "EntityContainer",
        &[
            ("Name", "V2FeedContext"),
            ("m:IsDefaultEntityContainer", "true"),
        ],
    );
    xml.empty(
        "EntitySet",
        &[("Name", "Packages"), ("EntityType", QUALIFIED_TYPE)],
    );
    let functions: [(&str, &[(&str, &str)]); 2] = [
        (
            "Search",
            &[
                ("searchTerm", "Edm.String"),
                ("targetFramework", "Edm.String"),
                ("includePrerelease", "Edm.Boolean"),
            ],
        ),
        ("FindPackagesById", &[("id", "Edm.String")]),
    ];
    let collection = format!("Collection({QUALIFIED_TYPE})");
    for (name, parameters) in functions {
        xml.open(
            "FunctionImport",
            &[
                ("Name", name),
                ("ReturnType", &collection),
                ("EntitySet", "Packages"),
            ],
        );
        for (parameter, kind) in parameters {
            xml.empty("Parameter", &[("Name", parameter), ("Type", kind)]);
        }
        xml.close("FunctionImport");
    }
    xml.close("EntityContainer");
    xml.close("Schema");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::assert_well_formed;

    const BASE: &str = "http://x/api/packages/alice/nuget";

    #[test]
    fn the_service_index_names_every_resource() {
        let response = index(BASE);
        assert_eq!(
            (response.status, response.content_type.as_str()),
            (200, JSON)
        );
        let doc: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(doc["version"], "3.0.0");
        let resources = doc["resources"].as_array().unwrap();
        let url = |kind: &str| {
            resources
                .iter()
                .find(|r| r["@type"] == kind)
                .map(|r| r["@id"].as_str().unwrap().to_string())
        };
        for kind in [
            "SearchQueryService",
            "SearchQueryService/3.0.0-beta",
            "SearchQueryService/3.0.0-rc",
        ] {
            assert_eq!(url(kind), Some(format!("{BASE}/query")));
        }
        for kind in [
            "RegistrationsBaseUrl",
            "RegistrationsBaseUrl/3.0.0-beta",
            "RegistrationsBaseUrl/3.0.0-rc",
        ] {
            assert_eq!(url(kind), Some(format!("{BASE}/registration")));
        }
        assert_eq!(
            url("PackageBaseAddress/3.0.0"),
            Some(format!("{BASE}/package"))
        );
        assert_eq!(url("PackagePublish/2.0.0"), Some(BASE.to_string()));
        assert_eq!(
            url("SymbolPackagePublish/4.9.0"),
            Some(format!("{BASE}/symbolpackage"))
        );
        assert!(resources.iter().all(|r| r["comment"].is_string()));
    }

    #[test]
    fn the_v2_service_document_points_at_packages() {
        let response = v2_service_document(BASE);
        assert_eq!(response.content_type, ATOM);
        let xml = String::from_utf8(response.body).unwrap();
        assert_well_formed(&xml);
        assert!(xml.contains(&format!("<service xml:base=\"{BASE}/\"")));
        assert!(xml.contains("<collection href=\"Packages\"><atom:title type=\"text\">Packages</atom:title></collection>"));
    }

    #[test]
    fn the_edmx_declares_every_entry_property() {
        let response = edmx();
        assert_eq!(response.content_type, XML);
        let xml = String::from_utf8(response.body).unwrap();
        assert_well_formed(&xml);
        assert!(xml.contains("<EntityType Name=\"V2FeedPackage\" m:HasStream=\"true\">"));
        assert!(
            xml.contains(
                "<Property Name=\"DownloadCount\" Type=\"Edm.Int32\" Nullable=\"false\"/>"
            )
        );
        assert!(
            xml.contains("<Property Name=\"Description\" Type=\"Edm.String\" Nullable=\"true\"/>")
        );
        assert_eq!(xml.matches("<Property ").count(), PROPERTIES.len());
        assert!(xml.contains("<FunctionImport Name=\"FindPackagesById\""));
    }
}
