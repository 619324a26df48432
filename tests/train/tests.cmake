# Pose trainer: logs (CSV, TensorBoard), checkpoints, resume, the train_pose tool.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/logs.cmake)
  include(${CMAKE_CURRENT_LIST_DIR}/logs.cmake)
endif()
