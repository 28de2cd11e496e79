//! Renderers of plans and reports: text (Terraform-like, colour), JSON (the plan file schema), Markdown (PR comments).
