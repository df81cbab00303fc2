// EvaluationMetrics
//
// The seed's matterport-style mAP (spec §7.1), COCO evaluation identical to pycocotools, classification metrics (§7.2).
// Depends on Foundation only.
//
// Files:
//   BinaryMask.swift                  dense row-major [H, W] masks (the model's pasted masks)
//   SeedMeanAP.swift                  `seed_map`: per-image AP with the seed's matching, averaged over images
//   RLEMask*.swift, COCOBox.swift     COCO run-length masks: encode/decode, compressed strings, polygons, IoU
//   COCOData.swift, COCOResults.swift COCO ground-truth/results JSON in and out (loadRes semantics)
//   COCOEvaluator.swift               `coco`: evaluate → accumulate, as pycocotools' COCOeval
//   COCOStatistics.swift              the 12 statistics, summarize() layout, numpy's pairwise mean
//   ClassificationMetrics.swift       confusion matrix, per-class and overall figures, Wilson intervals
