//! ONNX export of the trained models, written with the protobuf types of `tract_onnx::pb`.
//!
//! Both graphs use only plain ONNX operators (opset 13: Sub, Mul, Add, Clip, MatMul,
//! Log, Relu, Exp, Neg, Pow, Softmax), which tract runs natively and any other runtime
//! can too. The input is `features`, float `[N, N_FEATURES]` with a symbolic batch `N`.
//!
//! Anomaly graph outputs: `anomaly_score [N,1]` (see `train` for its meaning),
//! `reconstruction_error [N,1]`, `projection [N,K]` (smartcore's PCA `transform`),
//! `contributions [N,F]` (each slot's squared residual, used for `AnomalyReasons`).
//!
//! Classifier graph outputs: `probabilities [N,4]` in [`Category::ALL`] order and
//! `critical_contributions [N,F]` (each slot's term in the `critical_security` logit).
//!
//! Every model carries its feature schema in `metadata_props` (`feature_schema_version`,
//! `feature_names`), so a file alone says what it expects.

use prost::Message;
use tract_onnx::pb;

use super::train::{
    AnomalyModel, Calibration, ClassifierModel, N_FAMILIES, N_KNOTS, N_SEGMENTS, SCORE_ROOT, Z_CLIP,
};
use crate::features::{FAMILY_OFFSET, FeatureSchema, N_FEATURES};
use crate::ml::Category;

use crate::ml::runtime::tensors::{
    ANOMALY_SCORE, CONTRIBUTIONS, CRITICAL_CONTRIBUTIONS, INPUT, PROBABILITIES, PROJECTION,
    RECONSTRUCTION_ERROR,
};

/// ONNX operator set version of both graphs.
pub const OPSET: i64 = 13;
const IR_VERSION: i64 = 8;
const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;

/// Identity written into the model files.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// `anomaly` or `classifier`.
    pub kind: &'static str,
    /// `<set_version>/anomaly` or `<set_version>/classifier`.
    pub version: String,
    /// What the model computes, in words.
    pub description: String,
}

impl ModelInfo {
    /// The `kind` model of the set `set_version`.
    pub fn of_set(set_version: &str, kind: &'static str, description: &str) -> Self {
        ModelInfo {
            kind,
            version: format!("{set_version}/{kind}"),
            description: description.to_string(),
        }
    }
}

struct Graph {
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    outputs: Vec<pb::ValueInfoProto>,
}

impl Graph {
    fn new() -> Self {
        Graph {
            nodes: Vec::new(),
            initializers: Vec::new(),
            outputs: Vec::new(),
        }
    }

    fn constant(&mut self, name: &str, dims: &[usize], values: Vec<f32>) -> String {
        assert_eq!(dims.iter().product::<usize>(), values.len(), "{name}");
        self.initializers.push(pb::TensorProto {
            name: name.to_string(),
            dims: dims.iter().map(|d| *d as i64).collect(),
            data_type: FLOAT,
            float_data: values,
            ..Default::default()
        });
        name.to_string()
    }

    fn scalar(&mut self, name: &str, value: f32) -> String {
        self.constant(name, &[], vec![value])
    }

    fn op(&mut self, op_type: &str, inputs: &[&str], output: &str) -> String {
        self.op_with(op_type, inputs, output, Vec::new())
    }

    fn op_with(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        output: &str,
        attribute: Vec<pb::AttributeProto>,
    ) -> String {
        self.nodes.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name: format!("{op_type}_{output}"),
            op_type: op_type.to_string(),
            attribute,
            ..Default::default()
        });
        output.to_string()
    }

    fn output(&mut self, name: &str, dims: &[Dim]) {
        self.outputs.push(value_info(name, dims));
    }

    /// `clip((features - mean) * scale)`, the standardization both graphs start with.
    fn standardize(&mut self, mean: &[f32], scale: &[f32]) -> String {
        let mean = self.constant("mean", &[N_FEATURES], mean.to_vec());
        let scale = self.constant("scale", &[N_FEATURES], scale.to_vec());
        let lo = self.scalar("z_min", -Z_CLIP);
        let hi = self.scalar("z_max", Z_CLIP);
        let centered = self.op("Sub", &[INPUT, &mean], "centered");
        let scaled = self.op("Mul", &[&centered, &scale], "scaled");
        self.op("Clip", &[&scaled, &lo, &hi], "z")
    }

    fn finish(self, info: &ModelInfo) -> pb::ModelProto {
        let schema = FeatureSchema::current();
        let graph = pb::GraphProto {
            node: self.nodes,
            name: format!("s3_sentinel_{}", info.kind),
            initializer: self.initializers,
            input: vec![value_info(INPUT, &[Dim::Batch, Dim::Fixed(N_FEATURES)])],
            output: self.outputs,
            ..Default::default()
        };
        let meta = |key: &str, value: String| pb::StringStringEntryProto {
            key: key.to_string(),
            value,
        };
        pb::ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            producer_name: "s3-sentinel-connector".to_string(),
            producer_version: env!("CARGO_PKG_VERSION").to_string(),
            domain: "s3sentinel".to_string(),
            model_version: 1,
            doc_string: info.description.clone(),
            graph: Some(graph),
            metadata_props: vec![
                meta("model_kind", info.kind.to_string()),
                meta("model_version", info.version.clone()),
                meta("feature_schema_version", schema.version.to_string()),
                meta("feature_names", schema.names.join(",")),
                meta(
                    "categories",
                    Category::ALL.map(|c| c.name()).join(",").to_string(),
                ),
            ],
            ..Default::default()
        }
    }
}

#[derive(Clone, Copy)]
enum Dim {
    Batch,
    Fixed(usize),
}

fn value_info(name: &str, dims: &[Dim]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            denotation: String::new(),
            value: Some(match d {
                Dim::Batch => dimension::Value::DimParam("N".to_string()),
                Dim::Fixed(n) => dimension::Value::DimValue(*n as i64),
            }),
        })
        .collect();
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: FLOAT,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
        }),
        ..Default::default()
    }
}

fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// The anomaly model as an ONNX graph.
pub fn anomaly_graph(model: &AnomalyModel, info: &ModelInfo) -> pb::ModelProto {
    let k = model.n_components;
    let mut g = Graph::new();
    let z = g.standardize(&model.standardizer.mean, &model.standardizer.scale);
    let center = g.constant("pca_center", &[N_FEATURES], model.center.clone());
    let p = g.constant("pca_components", &[N_FEATURES, k], model.components.clone());
    let pt = g.constant(
        "pca_components_t",
        &[k, N_FEATURES],
        transpose(&model.components, N_FEATURES, k),
    );
    let zc = g.op("Sub", &[&z, &center], "z_centered");
    let projection = g.op("MatMul", &[&zc, &p], PROJECTION);
    let recon = g.op("MatMul", &[&projection, &pt], "reconstruction");
    let resid = g.op("Sub", &[&zc, &recon], "residual");
    let contributions = g.op("Mul", &[&resid, &resid], CONTRIBUTIONS);
    let ones = g.constant("ones", &[N_FEATURES, 1], vec![1.0; N_FEATURES]);
    let error = g.op("MatMul", &[&contributions, &ones], RECONSTRUCTION_ERROR);

    // Calibration: the family's knots are picked by multiplying its one-hot slots.
    let cal: &Calibration = &model.calibration;
    let one = g.scalar("one", 1.0);
    let zero = g.scalar("zero", 0.0);
    let error_plus_one = g.op("Add", &[&error, &one], "error_plus_one");
    let u = g.op("Log", &[&error_plus_one], "log_error");
    let mut select = vec![0.0f32; N_FEATURES * N_FAMILIES];
    for f in 0..N_FAMILIES {
        select[(FAMILY_OFFSET + f) * N_FAMILIES + f] = 1.0;
    }
    let select = g.constant("family_select", &[N_FEATURES, N_FAMILIES], select);
    let onehot = g.op("MatMul", &[INPUT, &select], "family");
    let his: Vec<f32> = (0..N_FAMILIES)
        .flat_map(|f| cal.knots[f][1..].to_vec())
        .collect();
    let inv_w: Vec<f32> = (0..N_FAMILIES)
        .flat_map(|f| cal.inverse_widths(f))
        .collect();
    let his = g.constant("knot_high", &[N_FAMILIES, N_SEGMENTS], his);
    let inv_w = g.constant("knot_inverse_width", &[N_FAMILIES, N_SEGMENTS], inv_w);
    let masses = g.constant(
        "segment_mass",
        &[N_SEGMENTS, 1],
        Calibration::segment_masses().to_vec(),
    );
    let last: Vec<f32> = (0..N_FAMILIES).map(|f| cal.knots[f][N_KNOTS - 1]).collect();
    let inv_beta: Vec<f32> = cal.tail_scale.iter().map(|b| 1.0 / b).collect();
    let last = g.constant("knot_last", &[N_FAMILIES, 1], last);
    let inv_beta = g.constant("tail_inverse_scale", &[N_FAMILIES, 1], inv_beta);
    let tail_mass = g.scalar("tail_mass", Calibration::tail_mass() as f32);
    let third = g.scalar("score_exponent", (1.0 / SCORE_ROOT) as f32);

    let hi_row = g.op("MatMul", &[&onehot, &his], "row_knot_high");
    let inv_w_row = g.op("MatMul", &[&onehot, &inv_w], "row_inverse_width");
    let gap = g.op("Sub", &[&hi_row, &u], "knot_gap");
    let ramp = g.op("Mul", &[&gap, &inv_w_row], "knot_ramp");
    let clipped = g.op("Clip", &[&ramp, &zero, &one], "segment_survival");
    let bulk = g.op("MatMul", &[&clipped, &masses], "bulk_survival");
    let last_row = g.op("MatMul", &[&onehot, &last], "row_knot_last");
    let inv_beta_row = g.op("MatMul", &[&onehot, &inv_beta], "row_tail_inverse_scale");
    let excess = g.op("Sub", &[&u, &last_row], "tail_excess");
    let excess = g.op("Relu", &[&excess], "tail_excess_positive");
    let t = g.op("Mul", &[&excess, &inv_beta_row], "tail_t");
    let neg_t = g.op("Neg", &[&t], "tail_neg_t");
    let decay = g.op("Exp", &[&neg_t], "tail_decay");
    let tail = g.op("Mul", &[&decay, &tail_mass], "tail_survival");
    let survival = g.op("Add", &[&bulk, &tail], "survival_raw");
    let survival = g.op("Clip", &[&survival, &zero, &one], "survival");
    let root = g.op("Pow", &[&survival, &third], "survival_root");
    g.op("Sub", &[&one, &root], ANOMALY_SCORE);

    g.output(ANOMALY_SCORE, &[Dim::Batch, Dim::Fixed(1)]);
    g.output(RECONSTRUCTION_ERROR, &[Dim::Batch, Dim::Fixed(1)]);
    g.output(PROJECTION, &[Dim::Batch, Dim::Fixed(k)]);
    g.output(CONTRIBUTIONS, &[Dim::Batch, Dim::Fixed(N_FEATURES)]);
    g.finish(info)
}

/// The classifier as an ONNX graph.
pub fn classifier_graph(model: &ClassifierModel, info: &ModelInfo) -> pb::ModelProto {
    let mut g = Graph::new();
    let z = g.standardize(&model.standardizer.mean, &model.standardizer.scale);
    let wt = g.constant(
        "weights_t",
        &[N_FEATURES, 4],
        transpose(&model.weights, 4, N_FEATURES),
    );
    let b = g.constant("bias", &[4], model.bias.clone());
    let critical = Category::CriticalSecurity.index();
    let w_critical = g.constant(
        "weights_critical",
        &[N_FEATURES],
        model.weights[critical * N_FEATURES..(critical + 1) * N_FEATURES].to_vec(),
    );
    let xw = g.op("MatMul", &[&z, &wt], "xw");
    let logits = g.op("Add", &[&xw, &b], "logits");
    g.op_with(
        "Softmax",
        &[&logits],
        PROBABILITIES,
        vec![pb::AttributeProto {
            name: "axis".to_string(),
            r#type: pb::attribute_proto::AttributeType::Int as i32,
            i: 1,
            ..Default::default()
        }],
    );
    g.op("Mul", &[&z, &w_critical], CRITICAL_CONTRIBUTIONS);
    g.output(PROBABILITIES, &[Dim::Batch, Dim::Fixed(4)]);
    g.output(
        CRITICAL_CONTRIBUTIONS,
        &[Dim::Batch, Dim::Fixed(N_FEATURES)],
    );
    g.finish(info)
}

/// The model as `.onnx` file bytes.
pub fn encode(model: &pb::ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Reads `metadata_props` of an encoded model.
pub fn metadata(bytes: &[u8]) -> Result<Vec<(String, String)>, prost::DecodeError> {
    let model = pb::ModelProto::decode(bytes)?;
    Ok(model
        .metadata_props
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::runtime::run_outputs;
    use crate::training::train::tests::{toy_config, toy_dataset};
    use crate::training::train::train;

    fn info(kind: &'static str) -> ModelInfo {
        ModelInfo {
            kind,
            version: "test".into(),
            description: "parity test".into(),
        }
    }

    #[test]
    fn tract_reproduces_smartcore_on_held_out_rows() {
        let data = toy_dataset(1_500, 11);
        let config = toy_config(300);
        let models = train(&data, &config).unwrap();
        // Rows the models never saw.
        let held_out = toy_dataset(300, 12345);
        let rows = &held_out.features;

        let anomaly = encode(&anomaly_graph(&models.anomaly, &info("anomaly")));
        let out = run_outputs(
            &anomaly,
            rows,
            &[ANOMALY_SCORE, RECONSTRUCTION_ERROR, PROJECTION],
        )
        .unwrap();
        let reference = models.anomaly.reference(rows).unwrap();
        let max_diff = |a: &[f32], b: &[f64]| {
            assert_eq!(a.len(), b.len());
            a.iter()
                .zip(b)
                .map(|(x, y)| (*x as f64 - y).abs())
                .fold(0.0, f64::max)
        };
        let score_diff = max_diff(&out[0], &reference.scores);
        let projection_diff = max_diff(&out[2], &reference.projections);
        let relative_error_diff = out[1]
            .iter()
            .zip(&reference.errors)
            .map(|(x, y)| (*x as f64 - y).abs() / (1.0 + y))
            .fold(0.0, f64::max);
        assert!(score_diff < 1e-5, "anomaly score differs by {score_diff}");
        assert!(
            projection_diff < 1e-5,
            "PCA projection differs by {projection_diff}"
        );
        assert!(
            relative_error_diff < 1e-5,
            "error differs by {relative_error_diff}"
        );

        let classifier = encode(&classifier_graph(&models.classifier, &info("classifier")));
        let out = run_outputs(&classifier, rows, &[PROBABILITIES]).unwrap();
        let reference = models.classifier.reference(rows).unwrap();
        let prob_diff = max_diff(&out[0], &reference.probabilities);
        assert!(prob_diff < 1e-5, "probabilities differ by {prob_diff}");
        for (row, label) in out[0].chunks_exact(4).zip(&reference.labels) {
            let argmax = (0..4).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            assert_eq!(Category::from_index(argmax), Some(*label));
        }
    }

    #[test]
    fn metadata_carries_the_feature_schema() {
        let models = train(&toy_dataset(400, 2), &toy_config(50)).unwrap();
        let bytes = encode(&classifier_graph(&models.classifier, &info("classifier")));
        let meta = metadata(&bytes).unwrap();
        let get = |k: &str| {
            meta.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            get("feature_schema_version"),
            Some(crate::features::SCHEMA_VERSION.to_string())
        );
        assert_eq!(get("feature_names").unwrap().split(',').count(), N_FEATURES);
        assert_eq!(get("model_kind").as_deref(), Some("classifier"));
    }
}
