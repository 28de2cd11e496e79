//! The Microsoft Graph client: credentials and tokens, resilient HTTP (retry, `Retry-After` gate, rate cap, request
//! ids), typed endpoints, `$batch` and paging.
