// A small fixed COCO keypoint ground truth and results for the coco_eval targets: two images, one
// category, three people (one crowd, one without labelled joints), and two detections.
#pragma once
#include <string>

namespace hrnet::fuzz {

inline std::string kps(double x0, double y0, int v) {
  std::string s;
  for (int j = 0; j < 17; ++j) {
    if (j) s += ',';
    s += std::to_string(x0 + 3 * j) + ',' + std::to_string(y0 + 2 * j) + ',' + std::to_string(v);
  }
  return s;
}

inline std::string fixed_ground_truth() {
  return R"({"images":[{"id":1,"width":64,"height":48},{"id":2,"width":80,"height":60}],)"
         R"("categories":[{"id":1,"name":"person"}],"annotations":[)"
         R"({"id":10,"image_id":1,"category_id":1,"iscrowd":0,"area":900,"num_keypoints":17,"bbox":[4,4,50,40],"keypoints":[)" +
         kps(5, 5, 2) +
         R"(]},{"id":11,"image_id":2,"category_id":1,"iscrowd":0,"area":400,"num_keypoints":0,"bbox":[10,10,20,20],"keypoints":[)" +
         kps(0, 0, 0) +
         R"(]},{"id":12,"image_id":2,"category_id":1,"iscrowd":1,"area":100,"num_keypoints":0,"bbox":[0,0,10,10],"keypoints":[)" +
         kps(0, 0, 0) + "]}]}";
}

inline std::string fixed_results() {
  return R"([{"image_id":1,"category_id":1,"score":0.9,"keypoints":[)" + kps(6, 5, 1) +
         R"(]},{"image_id":2,"category_id":1,"score":0.4,"bbox":[10,10,20,20],"keypoints":[)" + kps(12, 11, 1) + "]}]";
}

}  // namespace hrnet::fuzz
