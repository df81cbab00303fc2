// ObjectDetection
//
// Mask R-CNN as in torchvision 0.3 with the seed's changes (spec §3-§4): anchors, RPN, RoIAlign, RoI heads, transform.
