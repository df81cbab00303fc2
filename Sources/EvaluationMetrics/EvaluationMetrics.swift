// EvaluationMetrics
//
// The seed's matterport-style mAP (spec §7.1), COCO evaluation identical to pycocotools, classification metrics (§7.2).
