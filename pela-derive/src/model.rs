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
    pub generic: bool,
}

/// Burn modules whose twins `pela::nn` provides.
const BURN_NN_TWINS: [&str; 4] = [
    "MultiHeadAttention",
    "PositionWiseFeedForward",
    "TransformerEncoderLayer",
    "TransformerEncoder",
];

/// The twin of a nested field's type, spelled out: `Vec<Block<B, A>>` → `Vec<BlockLowRank<B, A>>`.
///
/// Used for types that mention a generic parameter, where the projection
/// `<T as LowRank<B>>::Twin` would need a `where` clause on the twin struct that
/// `#[derive(Module)]` does not accept. The twin of a user type `X` is `XLowRank` at the same
/// path, so it must be in scope where `X` is.
pub fn spelled_twin(ty: &Type, krate: &Path) -> Result<Type, syn::Error> {
    let unsupported = || {
        syn::Error::new_spanned(
            ty,
            "a `#[low_rank]` field of a generic type must be a module, or a `Vec`, `Option` or \
             array of one; wrap other shapes in a struct deriving `LowRank`",
        )
    };
    match ty {
        Type::Array(array) => {
            let mut array = array.clone();
            *array.elem = spelled_twin(&array.elem, krate)?;
            Ok(Type::Array(array))
        }
        Type::Paren(inner) => spelled_twin(&inner.elem, krate),
        Type::Path(path) if path.qself.is_none() => {
            let mut path = path.clone();
            let last = path.path.segments.last_mut().ok_or_else(unsupported)?;
            let name = last.ident.to_string();
            if name == "Vec" || name == "Option" {
                let syn::PathArguments::AngleBracketed(args) = &mut last.arguments else {
                    return Err(unsupported());
                };
                for arg in args.args.iter_mut() {
                    if let syn::GenericArgument::Type(inner) = arg {
                        *inner = spelled_twin(inner, krate)?;
                    }
                }
                Ok(Type::Path(path))
            } else if name == "Linear" {
                Ok(syn::parse_quote!(#krate::StudentLinear<B>))
            } else if BURN_NN_TWINS.contains(&name.as_str()) {
                let twin = Ident::new(&format!("{name}LowRank"), last.ident.span());
                let args = &last.arguments;
                Ok(syn::parse_quote!(#krate::nn::#twin #args))
            } else {
                last.ident = twin_ident(&last.ident);
                Ok(Type::Path(path))
            }
        }
        _ => Err(unsupported()),
    }
}

/// What the twin does with a field.
pub enum FieldKind {
    /// A `Linear<B>`: becomes a `StudentLinear<B>`.
    Factorise(Option<Rule>),
    /// A module marked `#[low_rank]`, or a `Vec`/`Option`/array of `Linear`s: becomes its own
    /// twin; `spelled` holds the twin's type written out, for types that mention a generic
    /// parameter.
    Nested {
        rule: Option<Rule>,
        spelled: Option<Box<Type>>,
    },
    /// Carried over unchanged; `skipped_linear` when it is a `Linear`, or a container of
    /// them, marked `skip` (each is then reported as kept dense).
    Keep { skipped_linear: bool },
}

/// Whether the last path segment of `ty` is `Linear`, as burn-derive recognises types.
fn is_linear(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Linear"))
}

/// Whether `ty` is a `Vec`, an `Option` or an array of `Linear`s, at any depth
/// (`Vec<Option<Linear<B>>>`): such a field is compressed like a bare `Linear`, so that no
/// `Linear` is left dense in silence.
fn is_linear_container(ty: &Type) -> bool {
    let holds_linear = |inner: &Type| is_linear(inner) || is_linear_container(inner);
    match ty {
        Type::Array(array) => holds_linear(&array.elem),
        Type::Paren(inner) => holds_linear(&inner.elem),
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return false;
            };
            if last.ident != "Vec" && last.ident != "Option" {
                return false;
            }
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return false;
            };
            matches!(args.args.first(), Some(syn::GenericArgument::Type(inner)) if holds_linear(inner))
        }
        _ => false,
    }
}

/// Whether a path segment named `Linear` appears anywhere in `ty`.
fn mentions_linear(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
            self.0 |= segment.ident == "Linear";
            syn::visit::visit_path_segment(self, segment);
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
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

impl Container<'_> {
    /// Whether the struct has type parameters besides `B`.
    pub fn has_type_params(&self) -> bool {
        self.generics
            .params
            .iter()
            .any(|p| matches!(p, GenericParam::Type(t) if t.ident != "B"))
    }
}

impl<'a> Container<'a> {
    /// Parses and checks `input`, collecting every problem into one error.
    pub fn from_ast(input: &'a DeriveInput) -> Result<Self, syn::Error> {
        let mut errors = Errors::default();
        let attrs = attr::container(&input.attrs, &mut errors);
        let twin = attrs.twin.unwrap_or_else(|| twin_ident(&input.ident));
        let krate = attrs.krate.unwrap_or_else(|| syn::parse_quote!(::pela));

        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => {
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
                    Some(named)
                }
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
            let generic = mentions_type_param(&field.ty, &input.generics);
            let linear = is_linear(&field.ty);
            let linear_container = is_linear_container(&field.ty);
            let kind = if field_attr.skip {
                // A shape the derive cannot walk (a `Box`, a tuple) is kept as asked, unreported.
                FieldKind::Keep {
                    skipped_linear: linear || linear_container,
                }
            } else if linear {
                FieldKind::Factorise(field_attr.rule)
            } else if field_attr.nested || linear_container {
                let spelled = if generic {
                    match spelled_twin(&field.ty, &krate) {
                        Ok(ty) => Some(Box::new(ty)),
                        Err(error) => {
                            errors.push(error);
                            None
                        }
                    }
                } else {
                    None
                };
                FieldKind::Nested {
                    rule: field_attr.rule,
                    spelled,
                }
            } else {
                if mentions_linear(&field.ty) {
                    errors.push(syn::Error::new_spanned(
                        &field.ty,
                        format!(
                            "field `{}` holds `Linear`s in a shape `#[derive(LowRank)]` cannot \
                             walk, and would stay dense in silence: hold them in a `Vec`, an \
                             `Option` or an array (compressed like a bare `Linear`) or in a \
                             struct deriving `LowRank` marked `#[low_rank]`; or mark the field \
                             `#[low_rank(skip)]` to keep them dense",
                            field
                                .ident
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default()
                        ),
                    ));
                }
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
                generic,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn container(ty: &str) -> bool {
        is_linear_container(&syn::parse_str::<Type>(ty).unwrap())
    }

    #[test]
    fn containers_of_linear_are_recognised_at_any_depth() {
        for ty in [
            "Vec<Linear<B>>",
            "Option<Linear<B>>",
            "[Linear<B>; 4]",
            "Vec<Option<Linear<B>>>",
            "[Vec<burn::nn::Linear<B>>; 2]",
            "(Option<Linear<B>>)",
        ] {
            assert!(container(ty), "{ty}");
        }
        for ty in [
            "Linear<B>",
            "Vec<Block<B>>",
            "Option<LayerNorm<B>>",
            "HashMap<String, Linear<B>>",
            "Vec<(Linear<B>, Linear<B>)>",
            "Box<Linear<B>>",
        ] {
            assert!(!container(ty), "{ty}");
        }
        let mentions = |ty: &str| mentions_linear(&syn::parse_str::<Type>(ty).unwrap());
        assert!(mentions("Box<Linear<B>>") && mentions("Vec<(Linear<B>, Gelu)>"));
        assert!(!mentions("Vec<Block<B>>") && !mentions("LinearConfig"));
    }
}
