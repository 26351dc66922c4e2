//! Short constructors for the entries of a [`Manifest`](crate::Manifest).

use journey_plugin_api::{ConfigSpec, ParamSpec, ParamType, PartSpec};

/// An optional `send` parameter.
pub fn param(name: &str, ty: ParamType, docs: &str) -> ParamSpec {
    ParamSpec {
        name: name.to_string(),
        ty,
        required: false,
        docs: docs.to_string(),
    }
}

/// A `send` parameter every send must pass.
pub fn required_param(name: &str, ty: ParamType, docs: &str) -> ParamSpec {
    ParamSpec {
        required: true,
        ..param(name, ty, docs)
    }
}

/// A content part.
pub fn part(name: &str, required: bool, docs: &str) -> PartSpec {
    PartSpec {
        name: name.to_string(),
        required,
        docs: docs.to_string(),
    }
}

/// A plain configuration key.
pub fn config(name: &str, required: bool, docs: &str) -> ConfigSpec {
    ConfigSpec {
        name: name.to_string(),
        required,
        secret: false,
        docs: docs.to_string(),
    }
}

/// A configuration key whose value must come from `secret("...")`.
pub fn secret(name: &str, required: bool, docs: &str) -> ConfigSpec {
    ConfigSpec {
        secret: true,
        ..config(name, required, docs)
    }
}
