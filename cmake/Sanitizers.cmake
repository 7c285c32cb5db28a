# XMESH_SANITIZE applies to every target, so third-party headers compiled into us are
# instrumented too. mimalloc is dropped under sanitizers: they bring their own allocator.
if(XMESH_SANITIZE)
  add_compile_options(-fsanitize=${XMESH_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${XMESH_SANITIZE})
  set(XMESH_MIMALLOC OFF CACHE BOOL "" FORCE)
endif()
if(XMESH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "XMESH_FUZZ needs clang (CXX=clang++)")
  endif()
endif()
