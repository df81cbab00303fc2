import PipelineEngine

// How run reports present each kind's metrics: what a reader looks for first, which metrics carry a
// Wilson interval, and which are qualities and costs for sweep heat maps and trade-off plots.

extension TrainSegmentationStage: PresentsMetrics {
    var metricPresentation: MetricPresentation {
        MetricPresentation(headline: ["train_loss", "validation_loss", "parameters", "training_seconds", "epochs"],
                           cost: ["parameters", "training_seconds"],
                           labels: ["train_loss": "training loss (last epoch)", "validation_loss": "validation loss (last epoch)",
                                    "parameters": "parameters", "training_seconds": "training time (s)"])
    }
}

extension EvaluateMapStage: PresentsMetrics {
    var metricPresentation: MetricPresentation {
        MetricPresentation(headline: ["seed_map", "seed_ap50", "seed_ap75", "coco_segm_ap", "coco_bbox_ap", "images",
                                      "ground_truth_instances", "detections"],
                           quality: ["seed_map"],
                           labels: ["seed_map": "seed mAP (IoU 0.50:0.95)", "seed_ap50": "seed AP50", "seed_ap75": "seed AP75",
                                    "coco_segm_ap": "COCO mask AP", "coco_bbox_ap": "COCO box AP",
                                    "ground_truth_instances": "ground-truth lesions"])
    }
}

extension TrainClassifierStage: PresentsMetrics {
    var metricPresentation: MetricPresentation {
        MetricPresentation(headline: ["validation_accuracy", "train_accuracy", "validation_loss", "train_loss", "training_seconds"],
                           labels: ["validation_accuracy": "validation accuracy (last epoch)", "train_accuracy": "training accuracy (last epoch)",
                                    "validation_loss": "validation loss (last epoch)", "train_loss": "training loss (last epoch)",
                                    "training_seconds": "training time (s)"])
    }
}

extension EvaluateClassifierStage: PresentsMetrics {
    var metricPresentation: MetricPresentation {
        let classes = [("covid", "COVID-19"), ("cp", "common pneumonia"), ("control", "control")]
        var intervals = ["accuracy": MetricPresentation.Interval(lower: "accuracy_lower", upper: "accuracy_upper", kind: "95% Wilson")]
        var labels = ["accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1",
                      "cohens_kappa": "Cohen's κ"]
        for (key, name) in classes {
            for measure in ["sensitivity", "specificity"] {
                intervals["\(measure)_\(key)"] = .init(lower: "\(measure)_\(key)_lower", upper: "\(measure)_\(key)_upper", kind: "95% Wilson")
            }
            labels["sensitivity_\(key)"] = "sensitivity, \(name)"
            labels["specificity_\(key)"] = "specificity, \(name)"
        }
        return MetricPresentation(
            headline: ["accuracy"] + classes.map { "sensitivity_\($0.0)" } + classes.map { "specificity_\($0.0)" }
                + ["balanced_accuracy", "macro_f1", "cohens_kappa"],
            intervals: intervals, quality: ["accuracy"], labels: labels)
    }
}
