# Fuzz target for mesh/, the directory sync and the redundancy records, included by tests/fuzz/CMakeLists.txt.
# Run e.g.: build-fuzz/tests/fuzz/mesh_fuzz -max_total_time=60 tests/fuzz/corpus/mesh
if(XMESH_FUZZ)
  add_executable(mesh_fuzz ${CMAKE_CURRENT_LIST_DIR}/mesh_fuzz.cc)
  target_compile_options(mesh_fuzz PRIVATE -fsanitize=fuzzer)
  target_link_options(mesh_fuzz PRIVATE -fsanitize=fuzzer)
  target_link_libraries(mesh_fuzz PRIVATE xmesh_mesh xmesh_routing xmesh_srm_records xmesh_warnings)
endif()
