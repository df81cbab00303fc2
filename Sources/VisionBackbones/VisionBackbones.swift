// VisionBackbones
//
// ResNet (torchvision v1.5 blocks) with the seed's truncation, and the feature pyramid network (spec §2).
