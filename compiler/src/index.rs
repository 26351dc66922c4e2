//! Definitions and references found while compiling, for editors: go-to-definition, find
//! references, rename, hover and symbols all read this plain data.

use journey_bytecode::FileId;
use journey_grammar::ast::Span;
use serde::Serialize;

/// What a definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum DefKind {
    /// An event.
    Event,
    /// An event property.
    Property,
    /// A profile attribute.
    Attribute,
    /// A segment.
    Segment,
    /// A channel.
    Channel,
    /// A channel parameter.
    Parameter,
    /// A template.
    Template,
    /// An offer.
    Offer,
    /// A policy.
    Policy,
    /// A journey.
    Journey,
    /// A labelled step.
    Step,
    /// A goal.
    Goal,
    /// An experiment.
    Experiment,
    /// A test.
    Test,
}

/// A declared name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    /// Kind.
    pub kind: DefKind,
    /// Name.
    pub name: String,
    /// File.
    #[serde(skip)]
    pub file: FileId,
    /// The name's span.
    pub span: Span,
    /// The whole declaration.
    pub full: Span,
    /// Doc comment.
    pub docs: Option<String>,
    /// A one-line description (a type, a signature).
    pub detail: String,
    /// The enclosing definition (event of a property, journey of a step).
    pub container: Option<u32>,
}

/// A use of a definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// File.
    #[serde(skip)]
    pub file: FileId,
    /// The name's span.
    pub span: Span,
    /// Index into [`Index::defs`].
    pub def: u32,
}

/// All definitions and references of a compilation.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Definitions.
    pub defs: Vec<Definition>,
    /// References.
    pub refs: Vec<Reference>,
}

impl Index {
    /// Records a definition; returns its index.
    #[allow(clippy::too_many_arguments)]
    pub fn define(
        &mut self,
        kind: DefKind,
        name: &str,
        file: FileId,
        span: Span,
        full: Span,
        docs: Option<&str>,
        detail: String,
        container: Option<u32>,
    ) -> u32 {
        self.defs.push(Definition {
            kind,
            name: name.to_string(),
            file,
            span,
            full,
            docs: docs.map(str::to_string),
            detail,
            container,
        });
        (self.defs.len() - 1) as u32
    }

    /// Records a reference.
    pub fn reference(&mut self, file: FileId, span: Span, def: u32) {
        self.refs.push(Reference { file, span, def });
    }

    /// The definition or reference under a byte offset of a file, as a definition index.
    pub fn at(&self, file: FileId, offset: u32) -> Option<u32> {
        self.refs
            .iter()
            .find(|r| r.file == file && r.span.contains(offset))
            .map(|r| r.def)
            .or_else(|| {
                self.defs
                    .iter()
                    .position(|d| d.file == file && d.span.contains(offset))
                    .map(|i| i as u32)
            })
    }

    /// All references to a definition.
    pub fn references_to(&self, def: u32) -> impl Iterator<Item = &Reference> {
        self.refs.iter().filter(move |r| r.def == def)
    }
}
