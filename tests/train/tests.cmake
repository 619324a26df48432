# Pose trainer: logs (CSV, TensorBoard), checkpoints, resume, the train_pose tool.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/logs.cmake)
  include(${CMAKE_CURRENT_LIST_DIR}/logs.cmake)
endif()
hrnet_add_test(test_trainer train/test_trainer.cpp)
target_compile_definitions(test_trainer PRIVATE HRNET_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
