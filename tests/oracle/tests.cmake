# Oracle (issue requirement): heatmaps and tags rendered from the ground-truth keypoints of the
# synthetic dataset, through the whole decoder (estimate_poses) and the COCO evaluator, give AP >= 0.95.
hrnet_add_test(test_pose_oracle ${CMAKE_CURRENT_LIST_DIR}/test_pose_oracle.cpp)
