//! The models a service hosts: compiled model files (`shroud compile`), each planned for its
//! bootstrapping parameters when the service starts, so that a model that cannot run is
//! refused then and not at a client's first request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use shroud_lwe::bootstrap::presets;
use shroud_nn::engines::CompiledGraph;
use shroud_nn::model_file::{CompiledModel, ModelFile};

use crate::api::ModelSpec;
use crate::ServeError;

/// Where to find one hosted model: `NAME=PATH[@PARAMS]` on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSource {
    /// The name the model is served under, in `/v1/models/{name}`: 1 to 64 letters,
    /// digits, '.', '_' or '-'.
    pub name: String,
    /// The compiled model file (`shroud compile`'s output).
    pub path: PathBuf,
    /// A `shroud_lwe` preset name.
    pub params: String,
}

impl std::str::FromStr for ModelSource {
    type Err = String;

    /// `NAME=PATH` (at `wide_128`) or `NAME=PATH@PARAMS`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: expected NAME=PATH[@PARAMS]"))?;
        let (path, params) = rest.rsplit_once('@').unwrap_or((rest, "wide_128"));
        if !crate::store::valid_name(name) {
            return Err(format!(
                "model name {name:?}: 1 to 64 letters, digits, '.', '_' or '-'"
            ));
        }
        if presets::by_name(params).is_none() {
            return Err(format!(
                "unknown parameters {params:?} ({})",
                presets::NAMES.join(", ")
            ));
        }
        Ok(Self {
            name: name.into(),
            path: path.into(),
            params: params.into(),
        })
    }
}

/// One hosted model.
pub struct HostedModel {
    /// What clients are told of it.
    pub spec: ModelSpec,
    /// The graph compiled for its parameters, which inferences run.
    pub graph: Arc<CompiledGraph>,
}

/// The hosted models by name.
#[derive(Default)]
pub struct Models {
    models: BTreeMap<String, HostedModel>,
}

impl Models {
    /// Loads and plans every model; the first that fails stops the service's start.
    pub fn load(sources: &[ModelSource]) -> Result<Self, ServeError> {
        let mut models = BTreeMap::new();
        for source in sources {
            let model = load_one(source)?;
            if models.insert(source.name.clone(), model).is_some() {
                return Err(ServeError::Config(format!(
                    "two models are called {}",
                    source.name
                )));
            }
        }
        Ok(Self { models })
    }

    /// The model called `name`, if it is hosted.
    pub fn get(&self, name: &str) -> Option<&HostedModel> {
        self.models.get(name)
    }

    /// Every model's spec, in the order of their names.
    pub fn specs(&self) -> Vec<ModelSpec> {
        self.models.values().map(|m| m.spec.clone()).collect()
    }

    /// Whether some model runs at the parameter set called `params`.
    pub fn serves(&self, params: &str) -> bool {
        self.models.values().any(|m| m.spec.params == params)
    }

    /// Number of hosted models.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether no model is hosted.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

fn load_one(source: &ModelSource) -> Result<HostedModel, ServeError> {
    let at = |e: &dyn std::fmt::Display| {
        ServeError::Config(format!(
            "model {} ({}): {e}",
            source.name,
            source.path.display()
        ))
    };
    let params = presets::by_name(&source.params).ok_or_else(|| at(&"unknown parameters"))?;
    let model = CompiledModel::load(Path::new(&source.path)).map_err(|e| at(&e))?;
    let graph = CompiledGraph::new(model.quantized, &params).map_err(|e| at(&e))?;
    let plan = graph.plan();
    let spec = ModelSpec {
        name: source.name.clone(),
        source: model.source,
        params: params.name.clone(),
        security_bits: params.security_bits,
        interface: graph.model().interface(),
        encoding: graph.encoding(),
        bootstraps: plan.bootstraps,
        estimated_seconds: plan.estimated_seconds,
        max_log2_failure: plan.max_log2_failure,
        evaluation_key_bytes: plan.evaluation_key_bytes,
    };
    Ok(HostedModel {
        spec,
        graph: Arc::new(graph),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_sources_parse_and_refuse() {
        let m: ModelSource = "mnist=models/mnist.shroud".parse().unwrap();
        assert_eq!((m.name.as_str(), m.params.as_str()), ("mnist", "wide_128"));
        let m: ModelSource = "w=a@b/w.shroud@insecure_wide_test".parse().unwrap();
        assert_eq!(m.path, PathBuf::from("a@b/w.shroud"));
        assert_eq!(m.params, "insecure_wide_test");
        for bad in [
            "nameonly",
            "a/b=x.shroud",
            "m=x.shroud@no_such_params",
            "=x",
        ] {
            assert!(bad.parse::<ModelSource>().is_err(), "{bad}");
        }
    }
}
