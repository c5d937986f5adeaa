# amrs_whole_archive(<target> <static-library>): makes the INTERFACE target <target> that links
# every object of <static-library>, not only those something references. Agents and worlds
# register themselves from static initializers nothing calls, which a plain static link drops.
function(amrs_whole_archive target lib)
  add_library(${target} INTERFACE)
  target_link_libraries(${target} INTERFACE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${lib}>")
endfunction()
