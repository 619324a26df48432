# Training logs: TensorBoard event files (read back with the `tensorboard` pip package when it is
# installed, skipped otherwise) and the CSV log.
hrnet_add_test(test_logs train/test_logs.cpp)
target_compile_definitions(test_logs PRIVATE
  HRNET_READ_EVENTS_PY="${CMAKE_CURRENT_SOURCE_DIR}/train/read_events.py")
