//! [`Limits`]: a bound on every count a parser accepts, with the reasoning
//! for each default. The parsers check them after reading the JSON and
//! before building the model, and refuse with a `TooLarge`/`TooMany` error
//! naming the field. Nothing here parses.

/// The bounds applied by every parser of this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest document accepted. 64 MiB: the largest real SBOMs (container
    /// images with ~20,000 components) are ~30 MiB; an NVD API page of 2,000
    /// CVEs is ~20 MiB.
    pub document_bytes_max: usize,
    /// Most components in one SBOM (flattened, nested ones included).
    pub components_max: usize,
    /// Most dependency edges in one SBOM (sum of all `dependsOn`).
    pub dependency_edges_max: usize,
    /// Most advisories in one document (OSV arrays, NVD pages, CSAF).
    pub advisories_max: usize,
    /// Most affected entries in one advisory (NVD CPE matches of the Linux
    /// kernel reach a few thousand).
    pub affected_per_advisory_max: usize,
    /// Most versions or events in one affected entry.
    pub versions_per_affected_max: usize,
    /// Most VEX statements in one document, counted per product and status.
    pub statements_max: usize,
    /// Most products in a CSAF product tree or an OpenVEX statement.
    pub products_max: usize,
    /// Deepest nesting of CycloneDX components or CSAF branches. 64: real
    /// ones nest under 10; the bound keeps the recursion short.
    pub nesting_depth_max: usize,
}

impl Limits {
    /// The defaults (see each field).
    pub const DEFAULT: Limits = Limits {
        document_bytes_max: 64 * 1024 * 1024,
        components_max: 200_000,
        dependency_edges_max: 2_000_000,
        advisories_max: 200_000,
        affected_per_advisory_max: 20_000,
        versions_per_affected_max: 100_000,
        statements_max: 1_000_000,
        products_max: 200_000,
        nesting_depth_max: 64,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
