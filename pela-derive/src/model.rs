//! The derive's view of a struct: parsed from `syn`, checked, ready for code generation.

use syn::{
    Attribute, Data, DeriveInput, Fields, GenericParam, Generics, Ident, Path, Type, Visibility,
    visit::Visit,
};

use crate::attr::{self, Rule};
use crate::check::Errors;

/// A struct deriving `LowRank`.
pub struct Container<'a> {
    pub ident: &'a Ident,
    pub twin: Ident,
    pub vis: &'a Visibility,
    pub generics: &'a Generics,
    pub krate: Path,
    pub fields: Vec<Field<'a>>,
}

/// One named field.
pub struct Field<'a> {
    pub ident: &'a Ident,
    pub vis: &'a Visibility,
    pub ty: &'a Type,
    pub kind: FieldKind,
    /// Doc comments and `#[module(...)]` attributes, copied onto the twin's field.
    pub copied_attrs: Vec<&'a Attribute>,
    /// Whether the type mentions a type parameter other than `B`.
    pub is_generic: bool,
}

/// What the twin does with a field.
pub enum FieldKind {
    /// A `Linear<B>`: becomes a `StudentLinear<B>`.
    Factorise(Option<Rule>),
    /// A module marked `#[low_rank]`: becomes its own twin.
    Nested(Option<Rule>),
    /// Carried over unchanged; `skipped_linear` when it is a `Linear` marked `skip`.
    Keep { skipped_linear: bool },
}

/// Whether the last path segment of `ty` is `Linear`, as burn-derive recognises types.
fn is_linear(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Linear"))
}

fn mentions_type_param(ty: &Type, generics: &Generics) -> bool {
    struct Finder<'a> {
        params: Vec<&'a Ident>,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_type_path(&mut self, path: &'ast syn::TypePath) {
            if path.qself.is_none()
                && let Some(ident) = path.path.get_ident()
                && self.params.contains(&ident)
            {
                self.found = true;
            }
            syn::visit::visit_type_path(self, path);
        }
    }
    let params = generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) if t.ident != "B" => Some(&t.ident),
            _ => None,
        })
        .collect();
    let mut finder = Finder {
        params,
        found: false,
    };
    finder.visit_type(ty);
    finder.found
}

impl<'a> Container<'a> {
    /// Parses and checks `input`, collecting every problem into one error.
    pub fn from_ast(input: &'a DeriveInput) -> Result<Self, syn::Error> {
        let mut errors = Errors::default();
        let attrs = attr::container(&input.attrs, &mut errors);
        let twin = attrs.twin.unwrap_or_else(|| twin_ident(&input.ident));
        let krate = attrs.krate.unwrap_or_else(|| syn::parse_quote!(::pela));

        let has_backend = input
            .generics
            .params
            .iter()
            .any(|p| matches!(p, GenericParam::Type(t) if t.ident == "B"));
        if !has_backend {
            errors.push(syn::Error::new_spanned(
                &input.ident,
                "`#[derive(LowRank)]` needs the backend generic, named `B` as \
                 `#[derive(Module)]` requires: `struct Name<B: Backend> { .. }`",
            ));
        }

        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => Some(named),
                Fields::Unnamed(_) | Fields::Unit => {
                    errors.push(syn::Error::new_spanned(
                        &input.ident,
                        "`#[derive(LowRank)]` supports structs with named fields only; name the \
                         fields (Burn's `#[derive(Module)]` needs them named too)",
                    ));
                    None
                }
            },
            Data::Enum(data) => {
                errors.push(syn::Error::new(
                    data.enum_token.span,
                    "`#[derive(LowRank)]` does not support enums: derive it on the struct inside \
                     each variant and convert the variants by hand, or make the choice a field \
                     of a struct",
                ));
                None
            }
            Data::Union(data) => {
                errors.push(syn::Error::new(
                    data.union_token.span,
                    "`#[derive(LowRank)]` does not support unions: a Burn module is a struct \
                     with named fields",
                ));
                None
            }
        };

        let mut fields = Vec::new();
        for field in named.iter().flat_map(|n| n.named.iter()) {
            let field_attr = attr::field(&field.attrs, &mut errors);
            let linear = is_linear(&field.ty);
            let kind = if field_attr.skip {
                FieldKind::Keep {
                    skipped_linear: linear,
                }
            } else if linear {
                FieldKind::Factorise(field_attr.rule)
            } else if field_attr.nested {
                FieldKind::Nested(field_attr.rule)
            } else {
                FieldKind::Keep {
                    skipped_linear: false,
                }
            };
            let copied_attrs = field
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("doc") || a.path().is_ident("module"))
                .collect();
            fields.push(Field {
                ident: field.ident.as_ref().expect("named fields have names"),
                vis: &field.vis,
                ty: &field.ty,
                kind,
                copied_attrs,
                is_generic: mentions_type_param(&field.ty, &input.generics),
            });
        }
        errors.finish()?;
        Ok(Self {
            ident: &input.ident,
            twin,
            vis: &input.vis,
            generics: &input.generics,
            krate,
            fields,
        })
    }
}

/// `Net` → `NetLowRank`, spanned at the user's name so errors point there.
pub fn twin_ident(ident: &Ident) -> Ident {
    Ident::new(&format!("{ident}LowRank"), ident.span())
}
