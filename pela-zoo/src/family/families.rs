//! `families!`: a table of families declared as one enum, with its lookups and its dispatch.

/// Declares a table of model families: an enum with one variant a family, each with the kind
/// of task it is distilled and evaluated on ([`kind`](crate::family::kind)), and its
/// [`Zoo`](crate::family::Zoo) implementation (lookups by preset name, JSON config, folder
/// and student file). With the `cli` feature it also implements
/// [`cli::Commands`](crate::cli::Commands), so that the `pela` command runs on the table:
/// `pela_zoo::cli::main::<YourTable>()`. A family whose models lack what its kind's commands
/// need is a compile error at its line.
///
/// The zoo's own table is [`Architecture`](crate::family::Architecture). A crate with a
/// family of its own copies that table and adds its line:
///
/// ```
/// use pela_zoo::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
/// use pela_zoo::family::Zoo;
///
/// pela_zoo::families! {
///     /// The zoo's families (a family of this crate would be one more line).
///     #[derive(Debug, Clone, PartialEq)]
///     pub enum MyZoo {
///         Vit(pela_zoo::vit::VitConfig): ImageClassification,
///         Swin(pela_zoo::swin::SwinConfig): ImageClassification,
///         Bert(pela_zoo::bert::BertConfig): TextEmbedding,
///         Albef(pela_zoo::albef::AlbefConfig): ImageTextRetrieval,
///     }
/// }
///
/// let deit = MyZoo::preset("deit_tiny_patch16_224")?;
/// assert_eq!(deit.family(), "ViT");
/// assert!(matches!(deit, MyZoo::Vit(_)));
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[macro_export]
macro_rules! families {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$doc:meta])* $variant:ident($config:ty): $kind:ty),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$doc])* $variant($config),)+
        }

        $(impl ::core::convert::From<$config> for $name {
            fn from(config: $config) -> Self {
                Self::$variant(config)
            }
        })+

        impl $name {
            /// Runs the arm of `visitor` for this family's kind
            /// ([`VisitKind`]($crate::family::VisitKind)).
            pub fn visit_kind<V, O>(self, visitor: V) -> O
            where
                $($kind: $crate::family::VisitKind<V, $config, Output = O>,)+
            {
                match self {
                    $(Self::$variant(config) => {
                        <$kind as $crate::family::VisitKind<V, $config>>::visit(visitor, config)
                    })+
                }
            }
        }

        impl $crate::family::Zoo for $name {
            fn preset_names() -> ::std::vec::Vec<&'static str> {
                let mut names = ::std::vec::Vec::new();
                $(names.extend(<$config as $crate::family::Family>::preset_names());)+
                names
            }

            fn preset(name: &str) -> ::core::result::Result<Self, $crate::ZooError> {
                $(if let Some(config) = <$config as $crate::family::Family>::preset(name) {
                    return Ok(Self::$variant(config));
                })+
                Err($crate::family::__private::unknown_model(name, Self::preset_names()))
            }

            fn from_json(text: &str) -> ::core::result::Result<Self, $crate::ZooError> {
                let family = $crate::family::__private::family_of_json(text, &[$((
                    <$config as $crate::family::Family>::NAME,
                    <$config as $crate::family::Family>::JSON_FIELDS,
                ),)+])?;
                $(if family == <$config as $crate::family::Family>::NAME {
                    // Every config from a file is checked before anything is allocated.
                    let config = <$config as $crate::family::Family>::from_json(text)?;
                    $crate::family::Family::validate(&config)?;
                    return Ok(Self::$variant(config));
                })+
                unreachable!("`family_of_json` gives the name of one of the table's families")
            }

            fn from_folder(
                path: &::std::path::Path,
            ) -> ::core::result::Result<Self, $crate::ZooError> {
                $(if let Some(config) = <$config as $crate::family::Family>::from_folder(path) {
                    let config = config?;
                    $crate::family::Family::validate(&config)?;
                    return Ok(Self::$variant(config));
                })+
                Err($crate::family::__private::no_family_reads_folders(
                    path,
                    &[$(<$config as $crate::family::Family>::NAME,)+],
                ))
            }

            fn of_student(
                path: &::std::path::Path,
            ) -> ::core::result::Result<Self, $crate::ZooError> {
                let header = $crate::family::__private::header(path)?;
                $(if header.contains_key(<$config as $crate::family::Family>::HEADER_KEY) {
                    return Ok(Self::$variant(
                        $crate::family::__private::read_config::<$config>(path)?,
                    ));
                })+
                Err($crate::family::__private::no_family_in_header(
                    path,
                    &[$(<$config as $crate::family::Family>::HEADER_KEY,)+],
                ))
            }

            fn family(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$config as $crate::family::Family>::NAME,)+
                }
            }

            fn pela_plan(&self) -> $crate::__private::RankPlan {
                match self {
                    $(Self::$variant(config) => $crate::family::Family::pela_plan(config),)+
                }
            }

            fn same_architecture(&self, other: &Self) -> bool {
                match (self, other) {
                    $((Self::$variant(a), Self::$variant(b)) => {
                        $crate::family::Family::same_architecture(a, b)
                    })+
                    #[allow(unreachable_patterns)]
                    _ => false,
                }
            }

            fn config<F: $crate::family::Family>(&self) -> Option<&F> {
                match self {
                    $(Self::$variant(config) => {
                        (config as &dyn ::core::any::Any).downcast_ref::<F>()
                    })+
                }
            }

            fn visit<V: $crate::family::Visit>(self, visitor: V) -> V::Output {
                match self {
                    $(Self::$variant(config) => visitor.visit(config),)+
                }
            }
        }

        $crate::__families_commands!($name { $($variant($config): $kind),+ });
    };
}

/// The `pela` command's dispatch of a table ([`cli::Commands`](crate::cli::Commands)).
#[cfg(feature = "cli")]
#[doc(hidden)]
#[macro_export]
macro_rules! __families_commands {
    ($name:ident { $($variant:ident($config:ty): $kind:ty),+ }) => {
        impl $crate::cli::Commands for $name {
            fn compress<B: $crate::__private::Backend>(
                self,
                command: $crate::cli::Compress<'_, B>,
            ) -> $crate::cli::Result<$crate::__private::CompressionReport> {
                match self {
                    $(Self::$variant(config) => {
                        <$kind as $crate::family::VisitKind<_, $config>>::visit(command, config)
                    })+
                }
            }

            fn eval<B: $crate::__private::Backend>(
                self,
                command: $crate::cli::Eval<'_, B>,
            ) -> $crate::cli::Result<()> {
                match self {
                    $(Self::$variant(config) => {
                        <$kind as $crate::family::VisitKind<_, $config>>::visit(command, config)
                    })+
                }
            }

            fn distill<B: $crate::train::ParallelBackend>(
                self,
                command: $crate::cli::DistillRun<'_, B>,
            ) -> $crate::cli::Result<()> {
                match self {
                    $(Self::$variant(config) => {
                        <$kind as $crate::family::VisitKind<_, $config>>::visit(command, config)
                    })+
                }
            }

            fn finetune<B: $crate::train::ParallelBackend>(
                self,
                command: $crate::cli::Finetune<'_, B>,
            ) -> $crate::cli::Result<()> {
                match self {
                    $(Self::$variant(config) => {
                        <$kind as $crate::family::VisitKind<_, $config>>::visit(command, config)
                    })+
                }
            }

            fn export<B: $crate::__private::Backend>(
                self,
                command: $crate::cli::Export<'_, B>,
            ) -> $crate::cli::Result<()> {
                match self {
                    $(Self::$variant(config) => {
                        <$kind as $crate::family::VisitKind<_, $config>>::visit(command, config)
                    })+
                }
            }
        }
    };
}

/// Without the `cli` feature a table has no command to dispatch.
#[cfg(not(feature = "cli"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __families_commands {
    ($($table:tt)*) => {};
}
