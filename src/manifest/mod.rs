//! Manifests: the YAML model (serde + schemars), loading files, directories and stdin with locations, and offline
//! validation that collects every problem of a run as a diagnostic naming file, line, column and field path.
